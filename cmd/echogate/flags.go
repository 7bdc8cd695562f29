package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"echogate/config"
)

// listFlag collects a flag given several times.
type listFlag []string

func (f *listFlag) String() string     { return strings.Join(*f, ",") }
func (f *listFlag) Set(v string) error { *f = append(*f, v); return nil }

// loadConfig reads the configuration from -config, or builds it from -listen flags when there is no file.
func loadConfig(path string, listens []string) (*config.Config, error) {
	switch {
	case path != "" && len(listens) > 0:
		return nil, errors.New("give either -config or -listen, not both")
	case path != "":
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		return config.Load(abs)
	case len(listens) > 0:
		return config.FromListenFlags(listens)
	}
	return nil, errors.New("no listeners: give -config FILE or -listen tcp://127.0.0.1:7007")
}

// checkCommand validates a config file without binding anything.
func checkCommand(args []string) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	path := fs.String("config", "", "TOML config file to validate")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(os.Stderr, "echogate check: -config FILE is required")
		return 2
	}
	cfg, err := loadConfig(*path, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%s: ok, %d listener(s)\n", *path, len(cfg.Listeners))
	return 0
}
