package systemd

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestJournalHandler(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *slog.HandlerOptions
		log  func(l *slog.Logger)
		want string
	}{
		{name: "levels", opts: &slog.HandlerOptions{Level: slog.LevelDebug}, log: func(l *slog.Logger) {
			l.Debug("d")
			l.Info("i")
			l.Warn("w")
			l.Error("e")
			l.Log(context.Background(), slog.LevelError+4, "worse")
		}, want: "<7>d\n<6>i\n<4>w\n<3>e\n<3>worse\n"},
		{name: "default level hides debug", log: func(l *slog.Logger) {
			l.Debug("d")
			l.Info("i")
		}, want: "<6>i\n"},
		{name: "attrs", log: func(l *slog.Logger) {
			l.Info("listener started", "listener", "echo-tcp", "addr", "127.0.0.1:7007", "conns", 3)
		}, want: "<6>listener started listener=echo-tcp addr=127.0.0.1:7007 conns=3\n"},
		{name: "quoted values", log: func(l *slog.Logger) {
			l.Warn("bad line", "peer", "a b", "err", fmt.Errorf("x"))
		}, want: "<4>bad line peer=\"a b\" err=x\n"},
		{name: "with attrs and group", log: func(l *slog.Logger) {
			l = l.With("listener", "admin")
			l.WithGroup("conn").Info("closed", "id", 7)
			l.Info("again")
		}, want: "<6>closed listener=admin conn.id=7\n<6>again listener=admin\n"},
		{name: "message stays one line", log: func(l *slog.Logger) {
			l.Error("two\nlines", "v", "x\ny")
		}, want: "<3>\"two\\nlines\" v=\"x\\ny\"\n"},
		{name: "attrs without message", log: func(l *slog.Logger) {
			l.Info("", "k", 1)
		}, want: "<6>k=1\n"},
		{name: "user ReplaceAttr", opts: &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == "token" {
				return slog.String("token", "REDACTED")
			}
			return a
		}}, log: func(l *slog.Logger) {
			l.Info("shutdown refused", "token", "secret")
		}, want: "<6>shutdown refused token=REDACTED\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.log(slog.New(NewJournalHandler(&buf, tc.opts)))
			if got := buf.String(); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// countingWriter records how many writes it got.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

func TestJournalHandlerOneWritePerRecord(t *testing.T) {
	var w countingWriter
	l := slog.New(NewJournalHandler(&w, nil))
	done := make(chan bool)
	for g := range 4 {
		go func() {
			for i := range 50 {
				l.With("g", g).Info("record", "i", i)
			}
			done <- true
		}()
	}
	for range 4 {
		<-done
	}
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if w.writes != 200 || len(lines) != 200 {
		t.Fatalf("%d writes, %d lines; want 200 of each", w.writes, len(lines))
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "<6>record g=") {
			t.Fatalf("mixed line %q", line)
		}
	}
}

func TestUnderJournal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stream")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	other, err := os.CreateTemp(t.TempDir(), "other")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	match := fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	for _, tc := range []struct {
		name, env string
		file      *os.File
		want      bool
	}{
		{"match", match, f, true},
		{"other file", match, other, false},
		{"unset", "", f, false},
		{"wrong inode", fmt.Sprintf("%d:%d", st.Dev, st.Ino+1), f, false},
		{"garbage", "journal", f, false},
		{"trailing junk", match + "x", f, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("JOURNAL_STREAM", tc.env)
			if got := UnderJournal(tc.file); got != tc.want {
				t.Errorf("UnderJournal with JOURNAL_STREAM=%q = %v; want %v", tc.env, got, tc.want)
			}
		})
	}
}
