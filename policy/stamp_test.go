package policy

import (
	"testing"

	"echogate/config"
)

// stamp_dscp_allow becomes a bit set: left out (every DSCP), [] (none) and a list.
func TestStampDSCPAllow(t *testing.T) {
	for _, tc := range []struct {
		name string
		list []uint16
		want uint64
	}{
		{"every DSCP", config.DefaultStampDSCPAllow, ^uint64(0)},
		{"none", []uint16{}, 0},
		{"EF and CS0", []uint16{0, 46}, 1 | 1<<46},
		{"63", []uint16{63}, 1 << 63},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := config.DefaultListener("s", config.UDP, "127.0.0.1:862")
			l.Mode, l.StampDSCPAllow = config.ModeStamp, tc.list
			if got := New(&l).Stamp.DSCPAllow; got != tc.want {
				t.Fatalf("DSCPAllow = %#x, want %#x", got, tc.want)
			}
		})
	}
}
