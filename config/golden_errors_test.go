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
	eachGolden(t, "testdata/errors/*.toml", func(t *testing.T, file string, data []byte) {
		_, err := Decode(filepath.Base(file), data)
		if err == nil {
			t.Fatal("decoded without error")
		}
		mustErrors(t, err)
		got := err.Error() + "\n"
		sidecar := strings.TrimSuffix(file, ".toml") + ".err"
		if writeGolden(t, sidecar, got) {
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
