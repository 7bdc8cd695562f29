package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// notInEnum says that s is not one of the key's values ("" when it is, or when any string will do).
func (k *key[T]) notInEnum(s string) string {
	if k.enum == nil || slices.Contains(k.enum, s) {
		return ""
	}
	return fmt.Sprintf("unknown %s %q (want %s)", strings.ReplaceAll(k.name, "_", " "), s, k.wanted())
}

// check returns what is wrong with k's value in t, decoded or set by hand, "" when nothing is.
func (k *key[T]) check(t *T) string {
	v := k.get(t)
	switch v := v.(type) {
	case string:
		if msg := k.notInEnum(v); msg != "" {
			return msg
		}
	case Mode:
		if msg := k.notInEnum(string(v)); msg != "" {
			return msg
		}
	case int:
		if msg := k.inRange(t, v); msg != "" {
			return msg
		}
	case time.Duration:
		if msg := k.longEnough(v); msg != "" {
			return msg
		}
	case []uint16:
		for _, n := range v {
			if k.hi > 0 && (int(n) < k.lo || int(n) > k.hi) {
				return fmt.Sprintf("%s: %d is out of range (%d..%d)", k.name, n, k.lo, k.hi)
			}
		}
	case []netip.Prefix:
		for _, p := range v {
			if !p.IsValid() || p.Masked() != p {
				return fmt.Sprintf("%s: bad CIDR %q", k.name, p.String())
			}
		}
	}
	if k.rule != nil {
		return k.rule(k.name, v)
	}
	return ""
}

func (k *key[T]) inRange(t *T, n int) string {
	lo, why := k.lo, ""
	if k.floor != nil {
		lo, why = k.floor(t)
	}
	switch {
	case k.hi == 0 || n >= lo && n <= k.hi:
		return ""
	case why != "":
		return fmt.Sprintf("%s must be between %d (%s) and %d", k.name, lo, why, k.hi)
	}
	return fmt.Sprintf("%s must be between %d and %d", k.name, lo, k.hi)
}

func (k *key[T]) longEnough(d time.Duration) string {
	switch {
	case d < 0:
		return k.name + " must not be negative"
	case d >= k.least, k.off && d == 0:
		return ""
	case k.off:
		return fmt.Sprintf(`%s must be "0s" (off) or at least %v`, k.name, k.least)
	case k.why != "":
		return fmt.Sprintf("%s must be at least %v (%s)", k.name, k.least, k.why)
	}
	return fmt.Sprintf("%s must be at least %v", k.name, k.least)
}

// notEmpty refuses an empty allow list, which would refuse every client: leaving the key out admits all.
func notEmpty(key string, v any) string {
	if l, _ := v.([]netip.Prefix); l != nil && len(l) == 0 {
		return key + " = [] would refuse every client; leave " + key + " out to admit everyone"
	}
	return ""
}

// absolutePath refuses a path that is not absolute ("" means none and is fine).
func absolutePath(key string, v any) string {
	if s, _ := v.(string); s != "" && !filepath.IsAbs(s) {
		return fmt.Sprintf("%s %q must be an absolute path", key, s)
	}
	return ""
}

// credentialName refuses a string that is not a file name in $CREDENTIALS_DIRECTORY ("" means none).
func credentialName(key string, v any) string {
	if s, _ := v.(string); s != "" && !validCredentialName(s) {
		return fmt.Sprintf("%s %q must be a file name in $CREDENTIALS_DIRECTORY (no '/', not \".\" or \"..\")", key, s)
	}
	return ""
}
