package logq

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// gatedWriter blocks every Write until it is opened, like a pipe whose reader has stopped. entered gets a
// value each time a Write starts.
type gatedWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	open    chan struct{}
	entered chan struct{}
}

func newGatedWriter() *gatedWriter {
	return &gatedWriter{open: make(chan struct{}), entered: make(chan struct{}, 1)}
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	select {
	case w.entered <- struct{}{}:
	default:
	}
	<-w.open
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *gatedWriter) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Split(strings.TrimSuffix(w.buf.String(), "\n"), "\n")
}

func TestQueueDropsWhileTheReaderIsStalled(t *testing.T) {
	const size, extra = 8, 5
	w := newGatedWriter()
	q := New(slog.NewTextHandler(w, nil), size)
	log := slog.New(q.Handler())
	log.Info("first")
	<-w.entered // the writer holds "first" and is stuck writing it
	for i := range size + extra {
		log.Info("queued", "i", i) // must return although nothing is written
	}
	if got := q.Dropped(); got != extra {
		t.Fatalf("Dropped() = %d, want %d", got, extra)
	}
	close(w.open)
	if !q.Close(5 * time.Second) {
		t.Fatal("Close did not finish with an open writer")
	}
	lines := w.lines()
	if len(lines) != 1+size+1 {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), 1+size+1, strings.Join(lines, "\n"))
	}
	for i, l := range lines[1 : 1+size] {
		if want := "msg=queued i=" + strconv.Itoa(i); !strings.Contains(l, want) {
			t.Errorf("line %d = %q, want %q (in order)", i+1, l, want)
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, `msg="log lines dropped" count=5 total=5`) {
		t.Errorf("last line = %q, want the drop report", last)
	}
}

func TestCloseIsBounded(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stalled bool
		want    bool
	}{
		{"reader keeps up", false, true},
		{"reader stalled", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newGatedWriter()
			if !tc.stalled {
				close(w.open)
			} else {
				defer close(w.open)
			}
			q := New(slog.NewTextHandler(w, nil), 4)
			slog.New(q.Handler()).Info("bye")
			start := time.Now()
			if got := q.Close(200 * time.Millisecond); got != tc.want {
				t.Fatalf("Close = %v, want %v", got, tc.want)
			}
			if waited := time.Since(start); waited > 5*time.Second {
				t.Fatalf("Close took %s", waited)
			}
			if !tc.stalled && !strings.Contains(w.lines()[0], "msg=bye") {
				t.Errorf("queued record not written before Close returned: %q", w.lines())
			}
		})
	}
}

func TestRecordsKeepTheirTimeAndAttributes(t *testing.T) {
	var buf bytes.Buffer
	q := New(slog.NewJSONHandler(&buf, nil), 4)
	h := q.Handler().WithAttrs([]slog.Attr{slog.String("listener", "diag")}).WithGroup("g")
	at := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	r := slog.NewRecord(at, slog.LevelInfo, "old", 0)
	r.AddAttrs(slog.Int("n", 7))
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	q.Close(5 * time.Second)
	want := `{"time":"2001-02-03T04:05:06Z","level":"INFO","msg":"old","listener":"diag","g":{"n":7}}`
	if got := strings.TrimSpace(buf.String()); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// failingWriter fails every write, as a pipe whose reader has exited does.
type failingWriter struct{ writes int }

func (w *failingWriter) Write([]byte) (int, error) {
	w.writes++
	return 0, syscall.EPIPE
}

func TestFailedWritesCountAsDropped(t *testing.T) {
	w := &failingWriter{}
	q := New(slog.NewTextHandler(w, nil), 16)
	log := slog.New(q.Handler())
	for range 3 {
		log.Warn("lost")
	}
	q.Close(5 * time.Second)
	if got := q.Dropped(); got != 3 {
		t.Errorf("Dropped() = %d, want 3", got)
	}
	if w.writes > 6 { // each record, and at most one report after each
		t.Errorf("%d writes for 3 records: reports of failed reports?", w.writes)
	}
}

func TestLevelIsCheckedBeforeQueueing(t *testing.T) {
	var buf bytes.Buffer
	q := New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}), 1)
	log := slog.New(q.Handler())
	for range 10 {
		log.Debug("not logged")
	}
	log.Warn("logged")
	q.Close(5 * time.Second)
	if q.Dropped() != 0 || !strings.Contains(buf.String(), "msg=logged") {
		t.Errorf("dropped %d, output %q", q.Dropped(), buf.String())
	}
}

func TestHandleAfterCloseDrops(t *testing.T) {
	var buf bytes.Buffer
	q := New(slog.NewTextHandler(&buf, nil), 4)
	q.Close(5 * time.Second)
	slog.New(q.Handler()).Info("late")
	if q.Dropped() != 1 {
		t.Errorf("Dropped() = %d, want 1", q.Dropped())
	}
	if buf.Len() != 0 {
		t.Errorf("written after Close: %q", buf.String())
	}
}

// slowWriter takes a while over every write, like a reader that keeps up, slowly.
type slowWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func TestWaitingKeepsABurstForASlowReader(t *testing.T) {
	const burst = 50
	w := &slowWriter{}
	q := New(slog.NewTextHandler(w, nil), 2)
	log := slog.New(q.Waiting(time.Second))
	for i := range burst {
		log.Info("burst", "i", i)
	}
	q.Close(5 * time.Second)
	if got := strings.Count(w.buf.String(), "msg=burst"); got != burst || q.Dropped() != 0 {
		t.Errorf("%d of %d records written, %d dropped", got, burst, q.Dropped())
	}
}

func TestWaitingGivesUpOnAStalledReader(t *testing.T) {
	const size = 4
	w := newGatedWriter()
	q := New(slog.NewTextHandler(w, nil), size)
	t.Cleanup(func() { close(w.open); q.Close(5 * time.Second) })
	log := slog.New(q.Waiting(20 * time.Millisecond))
	log.Info("first")
	<-w.entered
	for range size {
		log.Info("queued")
	}
	log.Info("waits, then is dropped")
	log.Info("dropped at once")
	if got := q.Dropped(); got != 2 {
		t.Errorf("Dropped() = %d, want 2", got)
	}
}
