package main

import (
	"encoding/json"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// stampsendBin builds cmd/stampsend once per test run ($STAMPSEND_BIN, if set, is used instead).
var stampsendBin = commandBin("stampsend", "STAMPSEND_BIN")

// stampsendCoS is what a stampsend -json line says of the classes of service.
type stampsendCoS struct {
	Received  int   `json:"received"`
	DSCP      []int `json:"dscp"`       // the test packets', as the reflector saw them
	DSCPAsked *int  `json:"dscp_asked"` // DSCP1
	ReplyDSCP []int `json:"reply_dscp"` // the reflected packets', as they arrived
	RP        []int `json:"rp"`
}

// runStampsend runs a session of 5 packets with args against addr and decodes its -json line.
func runStampsend(t *testing.T, addr string, args ...string) stampsendCoS {
	t.Helper()
	bin, err := stampsendBin()
	if err != nil {
		t.Fatal(err)
	}
	args = append(append([]string{"-json", "-count", "5", "-rate", "100"}, args...), addr)
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("stampsend %v: %v\n%s", args, err, out)
	}
	var r stampsendCoS
	if err := json.Unmarshal(out, &r); err != nil || r.Received != 5 {
		t.Fatalf("stampsend %v: %v\n%s", args, err, out)
	}
	return r
}

// expectCoS checks that the test packets arrived with sent, and the replies with reply and RP rp.
func expectCoS(t *testing.T, what string, r stampsendCoS, sent, reply, rp int) {
	t.Helper()
	if !slices.Equal(r.DSCP, []int{sent}) || !slices.Equal(r.ReplyDSCP, []int{reply}) || !slices.Equal(r.RP, []int{rp}) {
		t.Errorf("%s: test packets DSCP %v, replies DSCP %v, RP %v; want [%d] [%d] [%d]", what, r.DSCP, r.ReplyDSCP,
			r.RP, sent, reply, rp)
	}
}

// TestStampClassOfServiceThroughDaemon runs stampsend -dscp 46 against a reflector that permits 46 (the
// reply comes back with EF, RP 0, even when the test packets were sent with AF11) and one whose
// stamp_dscp_allow = [0] (the reply keeps the test packets' DSCP, RP 1); a reload that permits 46 there takes
// effect on the next session.
func TestStampClassOfServiceThroughDaemon(t *testing.T) {
	t.Parallel()
	config := func(cs0 string) string {
		return echotest.Listener("ef", "udp", "127.0.0.1:0", `mode = "stamp"`, "stamp_dscp_allow = [46]") +
			echotest.Listener("cs0", "udp", "127.0.0.1:0", `mode = "stamp"`, "stamp_dscp_allow = "+cs0)
	}
	d := echotest.Start(t, config("[0]"))
	ef, cs0 := d.Addr("ef"), d.Addr("cs0")
	r := runStampsend(t, ef, "-dscp", "46")
	if r.DSCPAsked == nil || *r.DSCPAsked != 46 {
		t.Fatalf("dscp_asked %v, want 46", r.DSCPAsked)
	}
	expectCoS(t, "46 permitted", r, 46, 46, 0)
	expectCoS(t, "46 permitted, sent with 10", runStampsend(t, ef, "-dscp", "46", "-send-dscp", "10"), 10, 46, 0)
	expectCoS(t, "46 not permitted", runStampsend(t, cs0, "-dscp", "46"), 46, 46, 1)
	expectCoS(t, "46 not permitted, sent with 10", runStampsend(t, cs0, "-dscp", "46", "-send-dscp", "10"), 10, 10, 1)

	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, config("[0, 46]"))
	d.Signal(syscall.SIGHUP)
	d.AwaitReload(t, mark)
	if _, err := d.WaitLogAfter(mark, "stamp_dscp_allow [0]→[0,46]", 5*time.Second); err != nil {
		t.Errorf("the reload does not say what changed: %v", err)
	}
	expectCoS(t, "after the reload", runStampsend(t, cs0, "-dscp", "46", "-send-dscp", "10"), 10, 46, 0)
}
