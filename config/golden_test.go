package config

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected output of golden files in testdata/")

// eachGolden runs check as a subtest, named after the file, for every file that matches pattern, with the
// file's path and content. No matching file is a failure: a moved testdata folder must not pass silently.
func eachGolden(t *testing.T, pattern string, check func(t *testing.T, file string, data []byte)) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files %s: %v", pattern, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			check(t, file, data)
		})
	}
}

// writeGolden rewrites file with content under -update, and reports whether it did.
func writeGolden(t *testing.T, file, content string) bool {
	t.Helper()
	if !*update {
		return false
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return true
}
