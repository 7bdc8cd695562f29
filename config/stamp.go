package config

import (
	"path/filepath"
	"reflect"
	"slices"
)

// The values of stamp_auth and stamp_timestamp.
const (
	StampAuthOff      = "off"
	StampAuthRequired = "required"
	StampNTP          = "ntp"
	StampPTP          = "ptp"
)

// stampKeys are the keys that apply only to a UDP listener in mode "stamp".
var stampKeys = []string{"stamp_auth", "stamp_key_credential", "stamp_key_file", "stamp_stateful", "stamp_timestamp",
	"stamp_dscp_allow"}

// dscpRange is the DSCPs lo..hi.
func dscpRange(lo, hi uint16) []uint16 {
	out := make([]uint16, 0, hi-lo+1)
	for d := lo; d <= hi; d++ {
		out = append(out, d)
	}
	return out
}

// modes are the values of mode.
var modes = []Mode{ModeLine, ModeRaw, ModeAgent, ModeEcho, ModeStamp}

// isDefault reports whether k holds its default in l: a stamp key left at its default on another mode
// changes nothing, and a Config built by hand has every default set.
func isDefault(k *keySpec, l *Listener) bool {
	if k.def == nil {
		return reflect.ValueOf(k.get(l)).IsZero()
	}
	return reflect.DeepEqual(k.get(l), k.def)
}

// defaultMode is the mode of a listener of protocol p when mode is left out.
func defaultMode(p Protocol) Mode {
	if p == UDP {
		return ModeEcho
	}
	return ModeLine
}

// mode checks that listener i's mode is one of its protocol's, and the keys of mode "stamp".
func (v *validator) mode(i int) {
	l := &v.c.Listeners[i]
	if v.failedKey(i, "mode") || !slices.Contains(modes, l.Mode) {
		return // Decode or the key's check said so already
	}
	switch {
	case l.Protocol == TCP && l.Mode != ModeLine && l.Mode != ModeRaw && l.Mode != ModeAgent:
		v.add(i, "mode", `mode %q is a mode of udp listeners; a tcp listener's is "line", "raw" or "agent"`, l.Mode)
	case l.Protocol == UDP && l.Mode != ModeEcho && l.Mode != ModeStamp:
		v.add(i, "mode", `mode %q is a mode of tcp listeners; a udp listener's is "echo" or "stamp"`, l.Mode)
	}
	if l.Protocol != UDP {
		return
	}
	if l.Mode != ModeStamp {
		for _, name := range stampKeys {
			if k, _ := listenerKeySpec(name); v.c.isSet(i, k) && !isDefault(k, l) {
				v.add(i, name, `%s applies only to mode = "stamp" (this listener's mode is %q)`, name, l.Mode)
			}
		}
		return
	}
	v.stampKeySource(i)
}

// stampKeySource checks where the HMAC key of a STAMP listener comes from: required with stamp_auth =
// "required", and then from one place.
func (v *validator) stampKeySource(i int) {
	l := &v.c.Listeners[i]
	cred, file := v.c.isSetKey(i, "stamp_key_credential"), v.c.isSetKey(i, "stamp_key_file")
	keyName := "stamp_key_file"
	if cred {
		keyName = "stamp_key_credential"
	}
	switch {
	case cred && file:
		v.add(i, "stamp_key_file", "stamp_key_credential and stamp_key_file are mutually exclusive; use one")
	case l.StampAuth == StampAuthRequired && !cred && !file:
		v.add(i, "stamp_auth", `stamp_auth = "required" needs the HMAC key: set stamp_key_credential or stamp_key_file`)
	case l.StampAuth != StampAuthRequired && (cred || file):
		v.add(i, keyName, `a STAMP key is set but stamp_auth is %q: set stamp_auth = "required" to use it`, l.StampAuth)
	case cred && !validCredentialName(l.StampKeyCredential):
		v.add(i, "stamp_key_credential", "stamp_key_credential %q must be a file name in $CREDENTIALS_DIRECTORY (no '/', not \".\" or \"..\")", l.StampKeyCredential)
	case file && !filepath.IsAbs(l.StampKeyFile):
		v.add(i, "stamp_key_file", "stamp_key_file %q must be an absolute path", l.StampKeyFile)
	}
}
