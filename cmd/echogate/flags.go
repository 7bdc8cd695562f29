package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"echogate/config"
	"echogate/listeners"
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

// checkCommand validates a config file, reporting every error it finds. With -bind it also binds every
// listener's address, with the socket options `run` uses, and releases it at once.
func checkCommand(args []string) int {
	fs := newFlagSet("check")
	path, bind := checkFlags(fs)
	if code, stop := parseFlags(fs, args); stop {
		return code
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
	if !*bind {
		fmt.Printf("%s: ok, %d listener(s)\n", *path, len(cfg.Listeners))
		return 0
	}
	bound, notes, err := bindAll(cfg)
	for _, n := range notes {
		fmt.Println(n)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%s: ok, %d listener(s), %d bound and released\n", *path, len(cfg.Listeners), bound)
	return 0
}

// checkFlags declares the flags of `echogate check` on fs.
func checkFlags(fs *flag.FlagSet) (path *string, bind *bool) {
	path = fs.String("config", "", "TOML config `FILE` to validate")
	bind = fs.Bool("bind", false, "also bind every listener's address and release it at once, to find ports in use "+
		"and addresses this host does not have (a running echogate holds its own ports)")
	return path, bind
}

// bindAll binds every listener of cfg that has an address, holding them all at once as `run` does, then
// closes them. A failed bind is a positioned error; a listener whose socket comes from systemd (no address)
// is skipped with a note.
func bindAll(cfg *config.Config) (bound int, notes []string, err error) {
	raiseFileLimit(slog.New(slog.DiscardHandler)) // as run does: one descriptor per listener
	var errs []*config.Error
	var held []listeners.Binding
	defer func() {
		for _, b := range held {
			b.Close()
		}
	}()
	for i := range cfg.Listeners {
		lc := &cfg.Listeners[i]
		if lc.Address == "" {
			notes = append(notes, cfg.ListenerError(i, "", "no address: its socket comes from systemd; not bound").Error())
			continue
		}
		b, err := listeners.Bind(lc)
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), fmt.Sprintf("listener %q: ", lc.Name)) + bindHint(err)
			errs = append(errs, cfg.ListenerError(i, "address", msg))
			continue
		}
		held = append(held, b)
	}
	return len(held), notes, config.JoinErrors(cfg.Path, errs)
}

// bindHint says what a failed bind usually means.
func bindHint(err error) string {
	switch {
	case errors.Is(err, unix.EADDRINUSE):
		return " (another process holds it, perhaps the running echogate)"
	case errors.Is(err, unix.EADDRNOTAVAIL):
		return " (this host has no such address)"
	case errors.Is(err, unix.EAFNOSUPPORT):
		return " (this host has no IPv6)"
	case errors.Is(err, unix.EACCES):
		return " (ports below 1024 need CAP_NET_BIND_SERVICE)"
	}
	return ""
}
