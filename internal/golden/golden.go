// Package golden keeps a generated text and the region of a document that must show it in step: a test
// compares the two, and with -update rewrites the region from the code.
package golden

import (
	"os"
	"strings"
	"testing"
)

// Region checks that the text of file between the first begin marker and the end marker after it is want,
// and fails t with both when it is not; how says how to rewrite it (the test's -update command). With update
// it rewrites the region instead.
func Region(t testing.TB, file, begin, end, want, how string, update bool) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, begin)
	if i < 0 {
		t.Fatalf("%s has no %q", file, begin)
	}
	i += len(begin)
	j := strings.Index(text[i:], end)
	if j < 0 {
		t.Fatalf("%s: %q is not followed by %q", file, begin, end)
	}
	j += i
	if update {
		if err := os.WriteFile(file, []byte(text[:i]+want+text[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := text[i:j]; got != want {
		t.Errorf("%s: the text after %q differs from the code's (%s)\ngot:\n%s\nwant:\n%s",
			file, strings.TrimSpace(begin), how, got, want)
	}
}
