package policy

import "echogate/config"

// Stamp is the rules of a STAMP reflector (mode "stamp"), read by listeners/proto_stamp.go.
type Stamp struct {
	Auth     bool   // authenticated mode (RFC 8762 §4.2.2): every test packet must carry a good HMAC
	Key      []byte // the HMAC-SHA-256 key; nil unless Auth
	Stateful bool   // a reflector sequence number per session instead of the sender's
	PTP      bool   // timestamps in the PTPv2 truncated format, not NTP
	// DSCPAllow is the DSCPs a Class of Service TLV may have the reply sent with (RFC 8972 §4.4's local
	// policy), bit n for DSCP n.
	DSCPAllow uint64
}

// newStamp returns the STAMP rules of l, or nil when l is not a STAMP listener.
func newStamp(l *config.Listener) *Stamp {
	if l.Protocol != config.UDP || l.Mode != config.ModeStamp {
		return nil
	}
	s := &Stamp{Auth: l.StampAuth == config.StampAuthRequired, Stateful: l.StampStateful,
		PTP: l.StampTimestamp == config.StampPTP, DSCPAllow: dscpSet(l.StampDSCPAllow)}
	if s.Auth {
		s.Key = []byte(l.StampKey)
	}
	return s
}

// dscpSet is the bit set of the DSCPs in list; validation keeps them within 0..63.
func dscpSet(list []uint16) uint64 {
	var set uint64
	for _, d := range list {
		if d <= config.MaxDSCP {
			set |= 1 << d
		}
	}
	return set
}
