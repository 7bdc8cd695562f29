package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// A renamed listener on the same address keeps its listening socket: the new name answers on the same
// port through the same socket, and a client connected before the rename keeps being served.
func TestReloadRenameHandsSocketOver(t *testing.T) {
	t.Parallel()
	port := echotest.FreeTCPPort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	const daemon = "[daemon]\ndrain_timeout = \"1s\"\n"
	d := echotest.Start(t, daemon+echotest.TCPListener("before", addr))
	if got := d.Addr("before"); got != addr {
		t.Fatalf("serving on %s, want %s", got, addr)
	}
	inode := echotest.ListenInode(t, port)
	old := echotest.DialTCP(t, addr)
	echotest.RoundTrip(t, old, "before rename\n", "before rename\n")

	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, daemon+echotest.TCPListener("after", addr))
	summary := d.AwaitReload(t, mark)
	if !strings.Contains(summary, "added=1 removed=1") || !strings.Contains(summary, "connections=1") {
		t.Errorf("summary: %s", summary)
	}
	if got := d.Addr("after"); got != addr {
		t.Fatalf("renamed listener serves on %s, want %s", got, addr)
	}
	if got := echotest.ListenInode(t, port); got != inode {
		t.Errorf("listening socket inode %s -> %s: the socket was not handed over", inode, got)
	}
	echotest.RoundTrip(t, old, "after rename\n", "after rename\n")
	c := echotest.DialTCP(t, addr)
	echotest.RoundTrip(t, c, "new name\n", "new name\n")
	// The old connection follows the socket to the new name: it is not drained and closed.
	time.Sleep(1500 * time.Millisecond)
	echotest.RoundTrip(t, old, "still here\n", "still here\n")
	if line, err := d.WaitLogAfter(mark, "drain_timeout reached", 10*time.Millisecond); err == nil {
		t.Errorf("a renamed listener's connection was drained: %s", line)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

// A changed address binds the new socket before the old one closes: moving to a taken port fails and leaves
// the old socket serving; a good move keeps the open connections echoing and the old address refuses.
func TestReloadAddressChange(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCPListener("mover", "127.0.0.1:0"))
	oldAddr := d.Addr("mover")
	c := echotest.DialTCP(t, oldAddr)
	echotest.RoundTrip(t, c, "one\n", "one\n")

	held := echotest.HoldTCP(t, "127.0.0.2:0")
	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, echotest.TCPListener("mover", held))
	if line := d.AwaitReloadFailed(t, mark); !strings.Contains(line, "address already in use") {
		t.Errorf("failure log: %s", line)
	}
	echotest.RoundTrip(t, c, "two\n", "two\n")
	echotest.TCPEcho(t, oldAddr, "old socket still serves\n")

	mark = d.LogLines()
	echotest.SaveAtomic(t, d.Config, echotest.TCPListener("mover", "127.0.0.2:0"))
	summary := d.AwaitReload(t, mark)
	if !strings.Contains(summary, "changed=1") {
		t.Errorf("summary: %s", summary)
	}
	newAddr := d.Addr("mover")
	if newAddr == oldAddr || !strings.HasPrefix(newAddr, "127.0.0.2:") {
		t.Fatalf("moved to %s (from %s)", newAddr, oldAddr)
	}
	echotest.ExpectTCPRefused(t, oldAddr)
	echotest.RoundTrip(t, c, "three\n", "three\n")
	echotest.TCPEcho(t, newAddr, "new socket\n")
	echotest.RoundTrip(t, c, "four\n", "four\n")
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

// A removed listener stops accepting at once; its open connection is still served until drain_timeout,
// then it is closed with a log line.
func TestReloadRemovedListenerDrains(t *testing.T) {
	t.Parallel()
	daemon := "[daemon]\ndrain_timeout = \"1s\"\n"
	d := echotest.Start(t, daemon+echotest.TCPListener("stay", "127.0.0.1:0")+echotest.TCPListener("gone", "127.0.0.1:0"))
	goneAddr := d.Addr("gone")
	c := echotest.DialTCP(t, goneAddr)
	echotest.RoundTrip(t, c, "hello\n", "hello\n")

	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, daemon+echotest.TCPListener("stay", "127.0.0.1:0"))
	if summary := d.AwaitReload(t, mark); !strings.Contains(summary, "removed=1") {
		t.Errorf("summary: %s", summary)
	}
	echotest.ExpectTCPRefused(t, goneAddr)
	echotest.RoundTrip(t, c, "still served\n", "still served\n")
	line, err := d.WaitLogAfter(mark, "drain_timeout reached", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "listener=gone") || !strings.Contains(line, "connections=1") {
		t.Errorf("drain log: %s", line)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 16)); !errors.Is(err, io.EOF) {
		t.Errorf("after drain_timeout: read %d bytes, %v; want EOF", n, err)
	}
	echotest.TCPEcho(t, d.Addr("stay"), "other listener unaffected\n")
	// Counters live by name: the listener added back shows the connection its drain closed.
	mark = d.LogLines()
	echotest.SaveAtomic(t, d.Config, daemon+echotest.TCPListener("stay", "127.0.0.1:0")+echotest.TCPListener("gone", "127.0.0.1:0"))
	d.AwaitReload(t, mark)
	if got := echotest.Stats(t, d.Addr("stay")).Listeners["gone"]; got.DrainClosed != 1 || got.Accepted != 1 {
		t.Errorf("gone, added back: drain_closed=%d accepted=%d, want 1 and 1", got.DrainClosed, got.Accepted)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

// A reload whose file needs a port that is taken fails as a whole: the other changes in the same file
// (a new max_line, a removal, an addition) are not applied either.
func TestReloadPortInUseIsAtomic(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCPListener("a", "127.0.0.1:0", "max_line = 100")+echotest.TCPListener("b", "127.0.0.1:0"))
	aAddr, bAddr := d.Addr("a"), d.Addr("b")
	held := echotest.HoldTCP(t, "127.0.0.1:0")
	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, echotest.TCPListener("a", "127.0.0.1:0", "max_line = 200")+
		echotest.TCPListener("c", "127.0.0.1:0")+echotest.TCPListener("d", held))
	line := d.AwaitReloadFailed(t, mark)
	if !strings.Contains(line, `listener \"d\"`) || !strings.Contains(line, "address already in use") {
		t.Errorf("failure log: %s", line)
	}
	checkMaxLine(t, echotest.DialTCP(t, aAddr), 100)
	echotest.TCPEcho(t, bAddr, "b was not removed\n")
	if l, err := d.WaitLogAfter(mark, "listener=c", 0); err == nil {
		t.Errorf("listener c was started: %s", l)
	}
	s := echotest.StatsOn(t, echotest.DialTCP(t, aAddr))
	if s.ReloadsOK != 0 || s.ReloadsFailed != 1 || len(s.Listeners) != 2 {
		t.Errorf("stats: ok=%d failed=%d listeners=%v", s.ReloadsOK, s.ReloadsFailed, s.Listeners)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

// Tokens are read again on every reload: after the token file changes and SIGHUP, the old token is refused
// and the new one works. Neither ever appears in the log.
func TestReloadTokenReadOnSIGHUP(t *testing.T) {
	t.Parallel()
	tokenFile := filepath.Join(t.TempDir(), "shutdown.token") // outside the watched config directory
	const oldToken, newToken = "old-secret-7f3a", "new-secret-91bc"
	if err := os.WriteFile(tokenFile, []byte(oldToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := echotest.Start(t, echotest.TCPListener("admin", "127.0.0.1:0", fmt.Sprintf("token_file = %q", tokenFile)))
	c := echotest.DialTCP(t, d.Addr("admin"))
	echotest.RoundTrip(t, c, "/shutdown "+newToken+"\n", "ERR shutdown-token-invalid\n")

	if err := os.WriteFile(tokenFile, []byte(newToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mark := d.LogLines()
	d.Signal(syscall.SIGHUP)
	if summary := d.AwaitReload(t, mark); !strings.Contains(summary, "changed=1") {
		t.Errorf("summary: %s", summary)
	}
	if l, err := d.WaitLogAfter(mark, "action=update listener=admin", time.Second); err != nil ||
		!strings.Contains(l, "token") {
		t.Errorf("update log: %q %v", l, err)
	}
	echotest.RoundTrip(t, c, "/shutdown "+oldToken+"\n", "ERR shutdown-token-invalid\n")
	echotest.RoundTrip(t, c, "/shutdown "+newToken+"\n", "OK, shutting down\n")
	if err := d.Wait(15 * time.Second); err != nil {
		t.Fatalf("exit after /shutdown: %v", err)
	}
	d.ExpectNotLogged(t, oldToken, newToken)
}

// /stats totals survive a reload: clients and lines counted before it are still counted after it.
func TestReloadKeepsStats(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCPListener("main", "127.0.0.1:0", "max_line = 100"))
	addr := d.Addr("main")
	c1, c2, s := echotest.DialTCP(t, addr), echotest.DialTCP(t, addr), echotest.DialTCP(t, addr)
	for i := 0; i < 3; i++ {
		echotest.RoundTrip(t, c1, "one\n", "one\n")
		echotest.RoundTrip(t, c2, "two\n", "two\n")
	}
	before := echotest.StatsOn(t, s)

	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, echotest.TCPListener("main", "127.0.0.1:0", "max_line = 120")+echotest.TCPListener("more", "127.0.0.1:0"))
	d.AwaitReload(t, mark)
	echotest.RoundTrip(t, c1, "again\n", "again\n")
	echotest.RoundTrip(t, c2, "again\n", "again\n")
	after := echotest.StatsOn(t, s)

	b, a := before.Listeners["main"], after.Listeners["main"]
	if before.TotalClients != 3 || after.TotalClients != 3 || after.TCPConnected != 3 {
		t.Errorf("total_clients %d -> %d, tcp_connected %d; want 3, 3, 3", before.TotalClients,
			after.TotalClients, after.TCPConnected)
	}
	if a.Accepted != b.Accepted || a.Lines != b.Lines+3 || a.BytesIn != b.BytesIn+6+6+12 {
		t.Errorf("main counters before %+v, after %+v", b, a)
	}
	if after.ReloadsOK != 1 || a.ReloadsOK != 1 {
		t.Errorf("reloads_ok %d (listener %d), want 1", after.ReloadsOK, a.ReloadsOK)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

// Two listeners configured on the same ephemeral address ("127.0.0.1:0") that leave in one reload must both
// close their sockets.
func TestReloadRemovesListenersSharingAnEphemeralAddress(t *testing.T) {
	t.Parallel()
	keep := echotest.TCPListener("keep", "127.0.0.1:0")
	d := echotest.Start(t, keep+echotest.TCPListener("one", "127.0.0.1:0")+echotest.TCPListener("two", "127.0.0.1:0")+
		"\n[[listener]]\nname = \"u1\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:0\"\n"+
		"\n[[listener]]\nname = \"u2\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:0\"\n")
	one, two, u1, u2 := d.Addr("one"), d.Addr("two"), d.Addr("u1"), d.Addr("u2")
	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, keep)
	d.AwaitReload(t, mark)
	echotest.ExpectTCPRefused(t, one)
	echotest.ExpectTCPRefused(t, two)
	echotest.ExpectUDPRefused(t, u1)
	echotest.ExpectUDPRefused(t, u2)
	echotest.TCPEcho(t, d.Addr("keep"), "kept\n")
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

// Two listeners that swap ports in one reload hand their sockets to each other: nothing is closed or
// refused, each port now applies the other listener's rules, and open connections keep echoing.
func TestReloadSwapPorts(t *testing.T) {
	t.Parallel()
	p1 := fmt.Sprintf("127.0.0.1:%d", echotest.FreeTCPPort(t))
	p2 := fmt.Sprintf("127.0.0.1:%d", echotest.FreeTCPPort(t))
	d := echotest.Start(t, echotest.TCPListener("a", p1, "max_line = 8")+echotest.TCPListener("b", p2, "max_line = 100"))
	c1, c2 := echotest.DialTCP(t, p1), echotest.DialTCP(t, p2)
	echotest.RoundTrip(t, c1, "short\n", "short\n")
	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, echotest.TCPListener("a", p2, "max_line = 8")+echotest.TCPListener("b", p1, "max_line = 100"))
	if summary := d.AwaitReload(t, mark); !strings.Contains(summary, "result=ok") {
		t.Fatalf("summary: %s", summary)
	}
	long := strings.Repeat("x", 50) + "\n"
	echotest.RoundTrip(t, echotest.DialTCP(t, p1), long, long)                  // b's rules on p1
	echotest.RoundTrip(t, echotest.DialTCP(t, p2), long, "ERR too-long-line\n") // a's rules on p2
	echotest.RoundTrip(t, c1, "old a\n", "old a\n")
	echotest.RoundTrip(t, c2, "old b\n", "old b\n")
}
