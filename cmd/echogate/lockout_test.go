package main

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// lFloodShutdown sends one wrong /shutdown from each of n distinct source addresses in 127.1.0.0/16 to addr,
// a connection each, and counts the replies. It is bounded by n and by a 5 s deadline, after which the
// workers stop; the caller checks that every attempt got a reply.
func lFloodShutdown(t *testing.T, addr string, n int) (replies map[string]int, done int) {
	t.Helper()
	const workers = 8
	deadline := time.Now().Add(5 * time.Second)
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	replies = map[string]int{}
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				src := net.IPv4(127, 1, byte(i>>8), byte(i))
				reply, err := lShutdownFrom(src, addr, fmt.Sprintf("/shutdown flood-guess-%d\n", i), deadline)
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("from %v: %w", src, err))
				} else {
					replies[reply]++
					done++
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		next <- i + 1 // 127.1.0.1 on: never the .0 address
	}
	close(next)
	wg.Wait()
	for _, err := range errs[:min(len(errs), 5)] {
		t.Error(err)
	}
	return replies, done
}

// lShutdownFrom connects to addr from src, sends line and returns the one-line reply.
func lShutdownFrom(src net.IP, addr, line string, deadline time.Time) (string, error) {
	dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Deadline: deadline}
	c, err := dl.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(deadline)
	if _, err := c.Write([]byte(line)); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

// TestShutdownLockoutFlood is the attack of issue 11: an address banned after 5 bad tokens, then bad tokens
// from 4 100 other addresses in 127/8, more than the lockout table holds. The ban holds, and the daemon-wide
// budget (100 failures a minute) locks /shutdown for every address, a fresh one with the right token too,
// and says so once in the log. SIGTERM still stops the daemon.
func TestShutdownLockoutFlood(t *testing.T) {
	t.Parallel()
	tok := pWriteToken(t, t.TempDir(), "shutdown.token", pToken+"\n", 0o600)
	d := echotest.Start(t, echotest.TCPListener("admin", "127.0.0.1:0", `token_file = "`+tok+`"`))
	admin := d.Addr("admin")
	attacker := echotest.Dial(t, admin, patient.WithFrom("127.0.0.1"))
	for i := range 5 {
		echotest.RoundTrip(t, attacker, fmt.Sprintf("/shutdown guess-%d\n", i), "ERR shutdown-token-invalid\n")
	}
	echotest.RoundTrip(t, attacker, "/shutdown guess-5\n", "ERR shutdown-locked-out\n")

	const flood = 4100
	replies, done := lFloodShutdown(t, admin, flood)
	invalid, locked := replies["ERR shutdown-token-invalid\n"], replies["ERR shutdown-locked-out\n"]
	t.Logf("flood replies: %d token-invalid, %d locked-out, %d in all", invalid, locked, done)
	if done != flood {
		t.Fatalf("%d of %d attempts got a reply within 5 s", done, flood)
	}
	// The attacker's 5 failures and 95 of the flood fill the budget; the 101st failure is refused as usual and
	// starts the lock, so every later attempt is locked out before its token is looked at.
	if invalid != 96 || locked != flood-96 {
		t.Errorf("flood replies %d token-invalid, %d locked-out; want 96 and %d", invalid, locked, flood-96)
	}
	echotest.RoundTrip(t, attacker, "/shutdown guess-6\n", "ERR shutdown-locked-out\n")
	fresh := echotest.Dial(t, admin, patient.WithFrom("127.254.0.1"))
	echotest.RoundTrip(t, fresh, "/shutdown "+pToken+"\n", "ERR shutdown-locked-out\n")
	echotest.RoundTrip(t, fresh, "still echoing\n", "still echoing\n")

	if got := echotest.Stats(t, admin).Listeners["admin"].ShutdownRefused; got != 5+1+flood+2 {
		t.Errorf("shutdown_refused = %d, want %d", got, 5+1+flood+2)
	}
	if _, err := d.WaitLog("refusing /shutdown to every address", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if locks := d.CountLogAfter(0, "refusing /shutdown to every address"); locks != 1 {
		t.Errorf("the daemon-wide lock was logged %d times, want once", locks)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("SIGTERM during the lock: %v", err)
	}
}
