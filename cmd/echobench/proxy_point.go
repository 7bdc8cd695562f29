package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// tcp50Proxy is tcp50 against a listener with proxy_protocol = "optional" whose proxy_allow trusts the load
// generator, which sends no header: what looking for a header that does not come costs. Compare its ratio
// with tcp50's, which serves the same load with proxy_protocol "off".
var tcp50Proxy = point{"tcp50pp", "tcp 50 conns 64 B, proxy optional", "tcp", 50, 64, 1}

// pointListener holds the TOML lines an echogate listener gets for a point, beyond the defaults -listen
// gives; a point without an entry is served from -listen flags.
var pointListener = map[string][]string{
	tcp50Proxy.Key: {`proxy_protocol = "optional"`, `proxy_allow = ["127.0.0.0/8"]`},
}

// pointArgv returns the command that serves pt on 127.0.0.1:port: listenArgv, or for an echogate point with
// listener keys of its own a one-listener config written to a new directory (dir, which the caller removes).
func (s serverSpec) pointArgv(pt point, port int) (argv []string, dir string, err error) {
	keys, ok := pointListener[pt.Key]
	if !s.echogate || !ok {
		return s.listenArgv(port), "", nil
	}
	if dir, err = os.MkdirTemp("", "echobench-point-"); err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "echogate.toml")
	toml := fmt.Sprintf("[[listener]]\nname = \"bench\"\nprotocol = \"%s\"\naddress = \"127.0.0.1:%d\"\n%s\n",
		pt.Proto, port, strings.Join(keys, "\n"))
	if err := os.WriteFile(path, []byte(toml), 0o644); err != nil {
		return nil, dir, err
	}
	return []string{s.bin, "run", "-config", path, "-log-level", "warn"}, dir, nil
}
