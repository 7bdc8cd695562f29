package config

import (
	"fmt"
	"strings"
	"testing"
)

// manyListeners is a config of n TCP listeners on consecutive loopback ports, each with a few keys set.
func manyListeners(n int) []byte {
	var b strings.Builder
	b.WriteString("[daemon]\nlog_level = \"info\"\n")
	for i := range n {
		fmt.Fprintf(&b, "\n[[listener]]\nname = \"l%d\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:%d\"\nmax_conns = 100\nallow = [\"127.0.0.0/8\"]\n",
			i, 10000+i)
	}
	return []byte(b.String())
}

// BenchmarkDecode10000Listeners is what `echogate check` spends on a config of 10 000 listeners.
func BenchmarkDecode10000Listeners(b *testing.B) {
	data := manyListeners(10000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode("big.toml", data); err != nil {
			b.Fatal(err)
		}
	}
}
