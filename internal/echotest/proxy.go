package echotest

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// ProxySig is the 12-byte signature that starts every PROXY protocol v2 header.
const ProxySig = "\r\n\r\n\x00\r\nQUIT\n"

// ProxyV1 is a PROXY protocol v1 line naming src as the client of dst ("PROXY TCP4 …\r\n" or TCP6).
func ProxyV1(src, dst netip.AddrPort) string {
	family := "TCP4"
	if src.Addr().Is6() {
		family = "TCP6"
	}
	return fmt.Sprintf("PROXY %s %s %s %d %d\r\n", family, src.Addr(), dst.Addr(), src.Port(), dst.Port())
}

// ProxyV2 is a PROXY protocol v2 header with command PROXY naming src as the client of dst (both IPv4 or
// both IPv6), followed by the TLVs (ProxyTLV).
func ProxyV2(src, dst netip.AddrPort, tlvs ...string) string {
	fam, block := byte(0x11), src.Addr().AsSlice()
	if src.Addr().Is6() {
		fam = 0x21
	}
	block = append(block, dst.Addr().AsSlice()...)
	block = binary.BigEndian.AppendUint16(block, src.Port())
	block = binary.BigEndian.AppendUint16(block, dst.Port())
	for _, t := range tlvs {
		block = append(block, t...)
	}
	return proxyV2(0x21, fam, block)
}

// ProxyV2Local is a v2 LOCAL header, as balancers send on their own health checks.
func ProxyV2Local() string { return proxyV2(0x20, 0x00, nil) }

// ProxyTLV is one v2 TLV of type typ.
func ProxyTLV(typ byte, value string) string {
	return string(binary.BigEndian.AppendUint16([]byte{typ}, uint16(len(value)))) + value
}

func proxyV2(verCmd, fam byte, block []byte) string {
	h := append([]byte(ProxySig), verCmd, fam)
	h = binary.BigEndian.AppendUint16(h, uint16(len(block)))
	return string(append(h, block...))
}
