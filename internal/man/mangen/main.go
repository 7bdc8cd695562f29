// Command mangen writes echogate's manual pages as troff: mangen -o DIR -version V writes DIR/echogate.8 and
// DIR/echogate.toml.5.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"echogate/internal/man"
)

func main() {
	out := flag.String("o", ".", "the `directory` to write the pages to")
	version := flag.String("version", "dev", "the version the pages name")
	flag.Parse()
	if err := write(*out, *version); err != nil {
		fmt.Fprintln(os.Stderr, "mangen:", err)
		os.Exit(1)
	}
}

func write(dir, version string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range man.Pages {
		troff, err := man.Render(name, version)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, strings.TrimSuffix(name, ".md")), troff, 0o644); err != nil {
			return err
		}
	}
	return nil
}
