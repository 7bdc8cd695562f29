package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorsGolden decodes every testdata/errors/*.toml file and compares the error with
// the one in its .err sidecar (go test -update rewrites the sidecars).
func TestErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Decode(filepath.Base(file), data)
			if err == nil {
				t.Fatal("decoded without error")
			}
			mustErrors(t, err)
			got := err.Error() + "\n"
			sidecar := strings.TrimSuffix(file, ".toml") + ".err"
			if *update {
				if err := os.WriteFile(sidecar, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(sidecar)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("got  %swant %s", got, want)
			}
		})
	}
}
