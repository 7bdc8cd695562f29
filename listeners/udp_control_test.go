package listeners

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// putCmsg appends a control message as the kernel writes one.
func putCmsg(b []byte, level, typ int32, data []byte) []byte {
	h := make([]byte, unix.CmsgSpace(len(data)))
	hdr := (*unix.Cmsghdr)(unsafe.Pointer(&h[0]))
	hdr.Level, hdr.Type = level, typ
	hdr.SetLen(unix.CmsgLen(len(data)))
	copy(h[unix.CmsgLen(0):], data)
	return append(b, h...)
}

// The kernel writes the timestamp first, then pktinfo, TTL and TOS (IPv4: a one-octet TOS; IPv6: ints):
// control reads each, whatever the order, and hands back the pktinfo message whole for the reply.
func TestControl(t *testing.T) {
	var ts [16]byte
	binary.NativeEndian.PutUint64(ts[:], 1_700_000_000)
	binary.NativeEndian.PutUint64(ts[8:], 123)
	var four [4]byte
	binary.NativeEndian.PutUint32(four[:], 57)
	pkt := make([]byte, unix.SizeofInet4Pktinfo)
	msgs := putCmsg(nil, unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, ts[:])
	msgs = putCmsg(msgs, unix.IPPROTO_IP, unix.IP_PKTINFO, pkt)
	msgs = putCmsg(msgs, unix.IPPROTO_IP, unix.IP_TTL, four[:])
	msgs = putCmsg(msgs, unix.IPPROTO_IP, unix.IP_TOS, []byte{0xb8})
	b := newUDPBatch()
	copy(b.ctl[0][:], msgs)
	b.hdrs[0].Hdr.SetControllen(len(msgs))
	info, rx := b.control(0)
	if rx.ttl != 57 || rx.tos != 0xb8 || rx.at != 1_700_000_000*1e9+123 {
		t.Fatalf("rx %+v", rx)
	}
	if hdr := (*unix.Cmsghdr)(unsafe.Pointer(&info[0])); hdr.Type != unix.IP_PKTINFO || len(info) != unix.CmsgSpace(len(pkt)) {
		t.Fatalf("pktinfo message %x", info)
	}
	var v6 []byte
	binary.NativeEndian.PutUint32(four[:], 3)
	v6 = putCmsg(v6, unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, four[:])
	binary.NativeEndian.PutUint32(four[:], 0x2a)
	v6 = putCmsg(v6, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, four[:])
	copy(b.ctl[1][:], v6)
	b.hdrs[1].Hdr.SetControllen(len(v6))
	if info, rx := b.control(1); info != nil || rx.ttl != 3 || rx.tos != 0x2a || rx.at != 0 {
		t.Fatalf("IPv6: %x %+v", info, rx)
	}
	b.hdrs[2].Hdr.SetControllen(0)
	if info, rx := b.control(2); info != nil || rx != noControl {
		t.Fatalf("nothing: %x %+v", info, rx)
	}
	if n := testing.AllocsPerRun(100, func() { b.control(0) }); n != 0 {
		t.Fatalf("control allocates %v times", n)
	}
}
