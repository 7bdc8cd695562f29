package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// referenceLine aligns the comments of the block on one column, as far as the text allows.
func referenceLine(text, comment string) string {
	return text + strings.Repeat(" ", max(31-len(text), 3)) + "# " + comment + "\n"
}

// tomlLiteral writes a key's value as it is written in a config file.
func tomlLiteral(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case Mode:
		return strconv.Quote(string(v))
	case Protocol:
		return strconv.Quote(string(v))
	case time.Duration:
		return strconv.Quote(shortDuration(v))
	case []netip.Prefix:
		return "[" + strings.Join(listOf(v, func(p netip.Prefix) string { return strconv.Quote(p.String()) }), ", ") + "]"
	case []uint16:
		return "[" + strings.Join(listOf(v, portString), ", ") + "]"
	case []string:
		return "[" + strings.Join(listOf(v, strconv.Quote), ", ") + "]"
	}
	return fmt.Sprint(v)
}
