package policy

import (
	"net/netip"
	"testing"

	"echogate/config"
)

// benchPolicy is a listener with every check on, as the loop sees it in production.
func benchPolicy() *Policy {
	return New(&config.Listener{
		Name: "bench", Protocol: config.TCP, MaxConns: 1024, MaxConnsPerIP: 16,
		Allow:          prefixes("10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32", "127.0.0.0/8"),
		AdminAllow:     config.DefaultAdminAllow,
		Token:          "a-token-of-a-usual-length-0123456789",
		RateLines:      1_000_000,
		RateDatagrams:  1_000_000,
		UDPDenySources: config.DefaultUDPDenySources,
	})
}

func TestHotPathsDoNotAllocate(t *testing.T) {
	p := benchPolicy()
	mapped := netip.MustParseAddr("::ffff:127.0.0.1")
	zoned := netip.MustParseAddr("fe80::1%eth0")
	src := netip.MustParseAddrPort("[::ffff:127.0.0.1]:40000")
	arg := make([]byte, 1<<20)
	l := NewLockout(5, 0, 0, 16)
	l.Fail(mapped, 0)
	var b Bucket
	var now int64
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Admit", func() { p.Admit(mapped); p.Admit(zoned) }},
		{"AdminAllowed", func() { p.AdminAllowed(mapped) }},
		{"AdmitConn", func() { p.AdmitConn(src, 3, 1) }},
		{"CheckToken", func() { p.CheckToken([]byte("wrong")) }},
		{"CheckToken 1 MiB", func() { p.CheckToken(arg) }},
		{"AdmitDatagram", func() { p.AdmitDatagram(src) }},
		{"TakeLine", func() { now += 1000; p.TakeLine(&b, now) }},
		{"TakeDatagram", func() { now += 1000; p.TakeDatagram(&b, now) }},
		{"Lockout.Blocked", func() { l.Blocked(mapped, 1) }},
		{"Lockout.Fail known address", func() { l.Fail(mapped, 2) }},
	} {
		if n := testing.AllocsPerRun(100, tc.f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tc.name, n)
		}
	}
}

func BenchmarkAdmit(b *testing.B) {
	p := benchPolicy()
	a := netip.MustParseAddr("::ffff:127.0.0.1") // last rule, mapped: the slowest common case
	b.ReportAllocs()
	for b.Loop() {
		if !p.Admit(a) {
			b.Fatal("refused")
		}
	}
}

func BenchmarkCheckToken(b *testing.B) {
	p := benchPolicy()
	arg := []byte("a-token-of-a-usual-length-0123456789")
	b.ReportAllocs()
	for b.Loop() {
		if p.CheckToken(arg) != TokenOK {
			b.Fatal("refused")
		}
	}
}

func BenchmarkTakeLine(b *testing.B) {
	p := benchPolicy()
	var bucket Bucket
	var now int64
	b.ReportAllocs()
	for b.Loop() {
		now += 1000 // one line a microsecond: exactly the rate
		if ok, _ := p.TakeLine(&bucket, now); !ok {
			b.Fatal("refused")
		}
	}
}

// BenchmarkAdmission times the verdicts on a new connection and on a datagram, from the slowest common
// source: IPv4-mapped, in the last allow rule (and, for a connection, under both caps).
func BenchmarkAdmission(b *testing.B) {
	p := benchPolicy()
	src := netip.MustParseAddrPort("[::ffff:127.0.0.1]:40000")
	for _, bc := range []struct {
		name  string
		admit func() bool
	}{
		{"conn", func() bool { return p.AdmitConn(src, 100, 3) == Admitted }},
		{"datagram", func() bool { return p.AdmitDatagram(src) == Pass }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !bc.admit() {
					b.Fatal("refused")
				}
			}
		})
	}
}
