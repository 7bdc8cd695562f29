package systemd

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"echogate/config"
)

// exampleDir holds the units of examples/socket-activated.toml.
const exampleDir = "../examples/socket-activated"

// TestExampleSocketUnits checks the socket-activated example: systemd-analyze verify accepts its socket
// units and drop-in beside the packaged ones, the drop-in hands every one of them to the service, and each
// socket unit names a listener of examples/socket-activated.toml of the same protocol, one to one, none of
// which has an address of its own.
func TestExampleSocketUnits(t *testing.T) {
	units, _ := filepath.Glob(filepath.Join(exampleDir, "echogate-*.socket"))
	if len(units) == 0 {
		t.Fatal("no socket units in " + exampleDir)
	}
	const dropIn = "echogate.service.d/socket-activated.conf"
	extra := map[string]string{dropIn: readFile(t, filepath.Join(exampleDir, dropIn))}
	var names []string
	for _, u := range units {
		extra[filepath.Base(u)] = readFile(t, u)
		names = append(names, filepath.Base(u))
	}
	if analyze, err := exec.LookPath("systemd-analyze"); err == nil {
		verifyUnits(t, analyze, stageUnits(t, extra))
	} else {
		t.Log("systemd-analyze not installed: the units are not verified")
	}
	if got := strings.Fields(first(unitKeys(t, filepath.Join(exampleDir, dropIn))["Sockets"])); !equalSets(got, names) {
		t.Errorf("%s: Sockets=%v; want %v", dropIn, got, names)
	}
	cfg, err := config.Load(mustAbs(t, "../examples/socket-activated.toml"))
	if err != nil {
		t.Fatal(err)
	}
	protocols := map[string]config.Protocol{}
	for _, l := range cfg.Listeners {
		if l.Address != "" {
			t.Errorf("listener %q has an address: in this example systemd binds every port", l.Name)
		}
		protocols[l.Name] = l.Protocol
	}
	for _, u := range units {
		keys := unitKeys(t, u)
		name, proto := first(keys["FileDescriptorName"]), config.TCP
		if first(keys["ListenDatagram"]) != "" {
			proto = config.UDP
		}
		if got, ok := protocols[name]; !ok || got != proto || first(keys["Service"]) != "echogate.service" {
			t.Errorf("%s: FileDescriptorName=%s (%s), Service=%v: no such listener (%q)", u, name, proto, keys["Service"], got)
		}
		delete(protocols, name)
	}
	for name := range protocols {
		t.Errorf("listener %q has no socket unit in %s", name, exampleDir)
	}
}

func equalSets(a, b []string) bool {
	return strings.Join(sorted(a), " ") == strings.Join(sorted(b), " ")
}
