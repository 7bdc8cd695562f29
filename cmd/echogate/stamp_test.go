package main

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"echogate/internal/echotest"
	"echogate/internal/stamp"
	"echogate/listeners"
)

// stampSender is a STAMP Session-Sender written with the codec, on a socket whose TTL is set (IP_TTL).
type stampSender struct {
	c   *net.UDPConn
	srv netip.AddrPort
	mac *stamp.MAC // authenticated mode when set
}

const stampTestTTL = 9

func newStampSender(t *testing.T, srv string, key []byte) *stampSender {
	t.Helper()
	c := echotest.ListenUDP(t, "127.0.0.1:0")
	t.Cleanup(func() { _ = c.Close() })
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL, stampTestTTL) })
	if err != nil {
		t.Fatal(err)
	}
	s := &stampSender{c: c, srv: netip.MustParseAddrPort(srv)}
	if key != nil {
		s.mac = stamp.NewMAC(key)
	}
	return s
}

// packet builds a test packet with seq, SSID and extra TLVs, signed in authenticated mode.
func (s *stampSender) packet(seq uint32, ssid uint16, tlvs []byte) []byte {
	auth := s.mac != nil
	b := make([]byte, stamp.BaseSize(auth))
	stamp.PutTest(b, stamp.Test{Seq: seq, Timestamp: stamp.NTP(time.Now().UnixNano()), ErrEst: 1, SSID: ssid}, auth)
	b = append(b, tlvs...)
	if auth {
		s.mac.Sign(b)
		if at := stamp.HMACOffset(b[stamp.AuthSize:]); at >= 0 {
			s.mac.SignTLVs(b, b[stamp.AuthSize:], at)
		}
	}
	return b
}

// exchange sends pkt and returns the reply, or nil when none comes within wait.
func (s *stampSender) exchange(t *testing.T, pkt []byte, wait time.Duration) []byte {
	t.Helper()
	if _, err := s.c.WriteToUDPAddrPort(pkt, s.srv); err != nil {
		t.Fatal(err)
	}
	_ = s.c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4096)
	n, _, err := s.c.ReadFromUDPAddrPort(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

// reflect sends test packet seq and fails unless a good reflected packet of the same size comes back.
func (s *stampSender) reflect(t *testing.T, seq uint32, ssid uint16, tlvs []byte) stamp.Reply {
	t.Helper()
	pkt := s.packet(seq, ssid, tlvs)
	got := s.exchange(t, pkt, 10*time.Second)
	auth := s.mac != nil
	if len(got) != len(pkt) {
		t.Fatalf("reply of %d octets to a test packet of %d", len(got), len(pkt))
	}
	if auth && !s.mac.Verify(got) {
		t.Fatalf("the reply's HMAC does not verify: %x", got)
	}
	r, err := stamp.ParseReply(got, auth)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// clockSyncedNow reads the system clock's state as the reflector does.
func clockSyncedNow(t *testing.T) bool {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		t.Fatal(err)
	}
	return state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0
}

// A session in each unauthenticated mode through the daemon: the stateless reflector copies the sender's
// sequence number, the stateful one counts each session (peer and SSID) from 0; the TTL is the one the
// sender set; T2 ≤ T3 and both are now; the S bit says what adjtimex says of this host's clock; PTP
// timestamps carry the Z bit.
func TestStampSessions(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCPListener("ctl", "127.0.0.1:0")+
		echotest.Listener("stateless", "udp", "127.0.0.1:0", `mode = "stamp"`)+
		echotest.Listener("stateful", "udp", "127.0.0.1:0", `mode = "stamp"`, "stamp_stateful = true")+
		echotest.Listener("ptp", "udp", "127.0.0.1:0", `mode = "stamp"`, `stamp_timestamp = "ptp"`))
	synced := clockSyncedNow(t)
	for _, tc := range []struct {
		name     string
		stateful bool
		ptp      bool
	}{{"stateless", false, false}, {"stateful", true, false}, {"ptp", false, true}} {
		s := newStampSender(t, d.Addr(tc.name), nil)
		for i, ssid := range []uint16{7, 7, 8, 7} {
			before := time.Now().UnixNano()
			r := s.reflect(t, uint32(40+i), ssid, nil)
			after := time.Now().UnixNano()
			want := uint32(40 + i)
			if tc.stateful {
				want = map[int]uint32{0: 0, 1: 1, 2: 0, 3: 2}[i] // SSID 8 is a session of its own
			}
			if r.Seq != want || r.SenderSeq != uint32(40+i) || r.SSID != ssid {
				t.Fatalf("%s: packet %d: reflector seq %d (want %d), sender seq %d, SSID %d", tc.name, i, r.Seq,
					want, r.SenderSeq, r.SSID)
			}
			if r.SenderTTL != stampTestTTL {
				t.Fatalf("%s: Ses-Sender TTL %d, want %d (set with IP_TTL)", tc.name, r.SenderTTL, stampTestTTL)
			}
			if (r.ErrEst&stamp.ErrSync != 0) != synced || (r.ErrEst&stamp.ErrPTP != 0) != tc.ptp {
				t.Fatalf("%s: Error Estimate %#04x; adjtimex says synchronised = %v", tc.name, r.ErrEst, synced)
			}
			t2, t3 := stamp.UnixNano(r.RxTimestamp, tc.ptp), stamp.UnixNano(r.Timestamp, tc.ptp)
			slack := int64(time.Millisecond)
			if tc.ptp {
				slack = int64(40 * time.Second) // PTP is TAI, up to 37 s ahead of UTC
			}
			if t2 > t3 || t2 < before-slack || t3 > after+slack {
				t.Fatalf("%s: T2 %d, T3 %d, not within [%d, %d]", tc.name, t2, t3, before, after)
			}
		}
	}
	s := echotest.Stats(t, d.Addr("ctl"))
	for _, name := range []string{"stateless", "stateful", "ptp"} {
		if c := s.Listeners[name]; c.StampReflected != 4 || c.StampMalformed != 0 || c.StampAuthFailed != 0 {
			t.Errorf("%s: %+v", name, c.Counters)
		}
	}
}

// writeKey writes a STAMP key file, private as the daemon wants it.
func writeKey(t *testing.T, path, key string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Authenticated mode: a packet with a good HMAC (and HMAC TLV) is reflected and signed; a wrong one is
// dropped and counted. A reload (SIGHUP) after the key file changed makes the old key fail and the new one
// pass.
func TestStampAuthenticatedReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "stamp.key")
	writeKey(t, keyFile, "first-key")
	d := echotest.Start(t, echotest.TCPListener("ctl", "127.0.0.1:0")+echotest.Listener("auth", "udp", "127.0.0.1:0",
		`mode = "stamp"`, `stamp_auth = "required"`, `stamp_key_file = "`+keyFile+`"`, "stamp_stateful = true"))
	addr := d.Addr("auth")
	hmacTLV := stamp.AppendTLV(stamp.AppendTLV(nil, stamp.TypeExtraPadding, make([]byte, 8)), stamp.TypeHMAC,
		make([]byte, stamp.HMACSize))
	first := newStampSender(t, addr, []byte("first-key"))
	r := first.reflect(t, 1, 5, hmacTLV)
	if r.SenderSeq != 1 || r.SenderTTL != stampTestTTL {
		t.Fatalf("reply %+v", r)
	}
	second := newStampSender(t, addr, []byte("second-key"))
	if got := second.exchange(t, second.packet(1, 5, nil), 500*time.Millisecond); got != nil {
		t.Fatalf("a packet signed with another key was answered: %x", got)
	}
	echotest.WaitStats(t, d.Addr("ctl"), "stamp_auth_failed 1", func(s listeners.Snapshot) bool {
		return s.Listeners["auth"].StampAuthFailed == 1 && s.Listeners["auth"].StampReflected == 1
	})

	mark := d.LogLines()
	writeKey(t, keyFile, "second-key") // the config itself is unchanged: SIGHUP reads the key again
	d.Signal(syscall.SIGHUP)
	if line := d.AwaitReload(t, mark); !strings.Contains(line, "changed=1") {
		t.Fatalf("the new key is not a change: %s", line)
	}
	if got := first.exchange(t, first.packet(2, 5, nil), 500*time.Millisecond); got != nil {
		t.Fatalf("after the reload, the old key is still answered: %x", got)
	}
	if r := second.reflect(t, 2, 5, hmacTLV); r.SenderSeq != 2 {
		t.Fatalf("after the reload, reply %+v", r)
	}
	echotest.WaitStats(t, d.Addr("ctl"), "stamp_auth_failed 2", func(s listeners.Snapshot) bool {
		return s.Listeners["auth"].StampAuthFailed == 2 && s.Listeners["auth"].StampReflected == 2
	})
	d.ExpectNotLogged(t, "first-key", "second-key")
}

// A datagram shorter than a test packet is dropped and counted; a packet with a malformed TLV is answered
// with the M flag on it and counted; an unknown TLV comes back with U; nothing grows the reply.
func TestStampMalformed(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCPListener("ctl", "127.0.0.1:0")+
		echotest.Listener("stamp", "udp", "127.0.0.1:0", `mode = "stamp"`))
	s := newStampSender(t, d.Addr("stamp"), nil)
	if got := s.exchange(t, make([]byte, 20), 500*time.Millisecond); got != nil {
		t.Fatalf("a 20-octet datagram was answered: %x", got)
	}
	bad := []byte{0, stamp.TypeClassOfService, 0, 2, 0xb8, 0, 0, 0x99, 0, 1, 0xaa} // CoS of 2 octets; type 0x99
	pkt := s.packet(3, 1, bad)
	got := s.exchange(t, pkt, 10*time.Second)
	if len(got) != len(pkt) {
		t.Fatalf("reply of %d octets to %d", len(got), len(pkt))
	}
	tlvs := got[stamp.UnauthSize:]
	if tlvs[0] != stamp.FlagM || !bytes.Equal(tlvs[1:6], bad[1:6]) || tlvs[6] != stamp.FlagU || !bytes.Equal(tlvs[7:], bad[7:]) {
		t.Fatalf("reflected TLVs %x (sent %x)", tlvs, bad)
	}
	echotest.WaitStats(t, d.Addr("ctl"), "stamp_malformed 2", func(s listeners.Snapshot) bool {
		c := s.Listeners["stamp"]
		return c.StampMalformed == 2 && c.StampReflected == 1
	})
}
