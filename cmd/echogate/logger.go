package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lmittmann/tint"
	"golang.org/x/sys/unix"

	"echogate/internal/logq"
	"echogate/systemd"
)

// logQueueSize is how many records may wait for a slow log reader. Records are queued as pointers, so the
// bound costs 8 KiB until lines really wait, and a stopped reader makes the daemon hold 1024 records of
// about 300 bytes at most. Bursts larger than that come from goroutines that may wait (start-up lines of
// thousands of listeners, reloads): they wait for room while the writer makes progress (logPatience).
const logQueueSize = 1024

// logPatience is how long a goroutine other than the loop waits for a write stuck on the log's reader
// before its lines are dropped too.
const logPatience = 250 * time.Millisecond

// logFlushWait is how long a stopping daemon waits for its queued log lines to be written: a reader that
// has stopped must not hold up the exit.
const logFlushWait = time.Second

// logFormats are the values of -log-format.
var logFormats = []string{"auto", "tint", "text", "json", "journal"}

// newLogger picks the log handler: journald's "<N>" lines under systemd, tint with colours on a terminal,
// plain leveled text lines otherwise (or what -log-format asks for). Every format is written from a bounded
// queue by a goroutine of its own, so that the event loop never waits for stderr's reader; take loggers
// from the queue (Handler for the loop, Waiting elsewhere) and Close it before exiting.
func newLogger(format string, level slog.Leveler) (*logq.Queue, error) {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: readableDuration}
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
			NoColor: os.Getenv("NO_COLOR") != "", ReplaceAttr: readableDuration})
	case "text":
		h = slog.NewTextHandler(os.Stderr, opts)
	case "json":
		h = slog.NewJSONHandler(os.Stderr, opts)
	default:
		return nil, fmt.Errorf("-log-format %q: want one of %s", format, strings.Join(logFormats, ", "))
	}
	return logq.New(h, logQueueSize), nil
}

// readableDuration writes a duration as time.Duration.String does ("5s", "1.5ms") in every format: the
// text formats do that by themselves, slog's JSON handler would write nanoseconds (5000000000).
func readableDuration(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
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
