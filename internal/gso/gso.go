// Package gso builds what a sender passes with a run of equal UDP datagrams sent as one message
// (UDP_SEGMENT, Linux 4.18): the kernel takes the run through its send path once and cuts it into datagrams
// of the segment size at the end, the last one possibly shorter. echoload -gso and the tests send this way;
// echogate's own replies are grouped in listeners/udp_gso.go, into buffers the loop owns.
package gso

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Control is the UDP_SEGMENT control message for segments of size bytes.
func Control(size int) []byte {
	c := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(c[unix.CmsgLen(0):], uint16(size))
	return c
}
