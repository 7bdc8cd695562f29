package systemd

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// UnderJournal reports whether f is the stream systemd connected to journald: $JOURNAL_STREAM holds
// "device:inode" of that stream, and it matches f's own fstat (the variable alone can leak into
// children whose output goes elsewhere).
func UnderJournal(f *os.File) bool {
	devText, inoText, ok := strings.Cut(os.Getenv("JOURNAL_STREAM"), ":")
	if !ok {
		return false
	}
	dev, err1 := strconv.ParseUint(devText, 10, 64)
	ino, err2 := strconv.ParseUint(inoText, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == dev && uint64(st.Ino) == ino
}

// NewJournalHandler returns a slog.Handler for stderr under journald: one line per record, starting
// with the syslog priority journald reads ("<7>" debug, "<6>" info, "<4>" warn, "<3>" error), then the
// message and the attributes as key=value pairs (slog.TextHandler's format), with no time and no level
// key. opts is used as by slog.NewTextHandler and may be nil.
func NewJournalHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	var o slog.HandlerOptions
	if opts != nil {
		o = *opts
	}
	userReplace := o.ReplaceAttr
	o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
			return slog.Attr{}
		}
		if userReplace != nil {
			return userReplace(groups, a)
		}
		return a
	}
	out := &journalOut{w: w}
	return &journalHandler{out: out, text: slog.NewTextHandler(&out.buf, &o)}
}

// journalOut is the writer and record buffer every handler derived from one NewJournalHandler shares.
type journalOut struct {
	mu  sync.Mutex
	w   io.Writer
	buf bytes.Buffer
}

// journalHandler lets slog.TextHandler format the attributes and adds the priority and message.
type journalHandler struct {
	out  *journalOut
	text slog.Handler
}

// Enabled reports whether records at level are logged.
func (h *journalHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.text.Enabled(ctx, level)
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &journalHandler{out: h.out, text: h.text.WithAttrs(attrs)}
}

// WithGroup returns a handler that puts later attributes in the group name.
func (h *journalHandler) WithGroup(name string) slog.Handler {
	return &journalHandler{out: h.out, text: h.text.WithGroup(name)}
}

// Handle writes r as one line with a single write.
func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	o := h.out
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Reset()
	if err := h.text.Handle(ctx, r); err != nil {
		return err
	}
	attrs := bytes.TrimSuffix(o.buf.Bytes(), []byte("\n"))
	line := make([]byte, 0, 8+len(r.Message)+len(attrs))
	line = append(line, '<', priority(r.Level), '>')
	line = appendMessage(line, r.Message)
	if len(attrs) > 0 {
		if len(r.Message) > 0 {
			line = append(line, ' ')
		}
		line = append(line, attrs...)
	}
	line = append(line, '\n')
	_, err := o.w.Write(line)
	return err
}

// priority maps a slog level to the syslog priority digit journald understands.
func priority(l slog.Level) byte {
	switch {
	case l < slog.LevelInfo:
		return '7'
	case l < slog.LevelWarn:
		return '6'
	case l < slog.LevelError:
		return '4'
	}
	return '3'
}

// appendMessage appends msg, quoted when it holds control characters, so a record stays one line.
func appendMessage(b []byte, msg string) []byte {
	for i := 0; i < len(msg); i++ {
		if msg[i] < 0x20 || msg[i] == 0x7f {
			return strconv.AppendQuote(b, msg)
		}
	}
	return append(b, msg...)
}
