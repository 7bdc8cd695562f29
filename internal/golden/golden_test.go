package golden

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRegion(t *testing.T) {
	file := filepath.Join(t.TempDir(), "doc.md")
	const doc = "intro\n<!-- a -->\nold\n<!-- end -->\ntail\n"
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		fails      bool
	}{
		{"same", "old\n", false},
		{"differs", "new\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := &testing.T{}
			done := make(chan struct{})
			go func() {
				defer close(done)
				Region(inner, file, "<!-- a -->\n", "<!-- end -->", tc.want, "-update", false)
			}()
			<-done
			if inner.Failed() != tc.fails {
				t.Errorf("failed = %v, want %v", inner.Failed(), tc.fails)
			}
		})
	}
	Region(t, file, "<!-- a -->\n", "<!-- end -->", "new\n", "-update", true)
	if got, _ := os.ReadFile(file); string(got) != "intro\n<!-- a -->\nnew\n<!-- end -->\ntail\n" {
		t.Errorf("rewritten: %q", got)
	}
}
