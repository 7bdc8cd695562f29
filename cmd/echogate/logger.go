package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/lmittmann/tint"
	"golang.org/x/sys/unix"

	"echogate/systemd"
)

// newLogger picks the log handler: journald's "<N>" lines under systemd, tint with colours on a terminal,
// plain leveled text lines otherwise (or what -log-format asks for).
func newLogger(format string, level slog.Leveler) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	if format == "auto" {
		switch {
		case systemd.UnderJournal(os.Stderr):
			format = "journal"
		case isTerminal(os.Stderr):
			format = "tint"
		default:
			format = "text"
		}
	}
	var h slog.Handler
	switch format {
	case "journal":
		h = systemd.NewJournalHandler(os.Stderr, opts)
	case "tint":
		h = tint.NewTextHandler(os.Stderr, &tint.Options{Level: level, TimeFormat: time.DateTime,
			NoColor: os.Getenv("NO_COLOR") != ""})
	case "text":
		h = slog.NewTextHandler(os.Stderr, opts)
	case "json":
		h = slog.NewJSONHandler(os.Stderr, opts)
	default:
		return nil, fmt.Errorf("-log-format %q: want auto, tint, text, json or journal", format)
	}
	return slog.New(h), nil
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// parseLevel reads a log level name.
func parseLevel(s string) (slog.Level, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return lv, nil
}
