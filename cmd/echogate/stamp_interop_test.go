package main

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"echogate/internal/echotest"
	"echogate/internal/stamp"
)

// scapySender is a STAMP Session-Sender written with scapy's STAMP layer (scapy.contrib.stamp, RFC 8762 and
// 8972), an implementation this repository did not write. Arguments: the reflector's address, the TTL to
// send with (IP_TTL), the number of packets and the SSID. Every packet is scapy's default unauthenticated
// test packet (44 octets) with a sequence number from 1000, the time now and the SSID; the third also
// carries an Extra Padding TLV of 8 octets. Each reply is decoded with scapy's reflector class. Scapy
// 2.5.0 sizes a packet's TLVs from the UDP header it hangs under (pkt.parent.len), which dissection does
// not set, so the reply is decoded with a UDP header of its length given as parent. It prints one JSON
// line: per packet, what was sent and what scapy decoded, timestamps as their 64-bit wire values.
const scapySender = `
import json, socket, sys, time
from scapy.layers.inet import UDP
from scapy.contrib.stamp import (ErrorEstimate, STAMPSessionReflectorTestUnauthenticated as Reflector,
    STAMPSessionSenderTestUnauthenticated as Sender, STAMPTestTLV)

NTP_EPOCH = 2208988800
host, port = sys.argv[1].rsplit(':', 1)
ttl, count, ssid = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
s.settimeout(10)

def errest(e):
    return {'S': e.S, 'Z': e.Z, 'scale': e.scale, 'multiplier': e.multiplier}

out = []
for i in range(count):
    tlvs = [STAMPTestTLV(type=1, len=8, value=b'\x00' * 8)] if i == 2 else []
    test = Sender(seq=1000 + i, ts=time.time() + NTP_EPOCH, ssid=ssid, tlv_objects=tlvs)
    pkt = bytes(test)
    s.sendto(pkt, (host, int(port)))
    reply, _ = s.recvfrom(4096)
    r = Reflector(reply, _parent=UDP(len=8 + len(reply)))
    out.append({
        'sent': {'len': len(pkt), 'seq': test.seq, 'ts': test.getfieldval('ts'), 'ssid': test.ssid,
                 'err_estimate': errest(test.err_estimate)},
        'reflected': {
            'len': len(reply), 'seq': r.seq, 'ts': r.getfieldval('ts'), 'err_estimate': errest(r.err_estimate),
            'ssid': r.ssid, 'ts_rx': r.getfieldval('ts_rx'), 'seq_sender': r.seq_sender,
            'ts_sender': r.getfieldval('ts_sender'), 'err_estimate_sender': errest(r.err_estimate_sender),
            'ttl_sender': r.ttl_sender,
            'tlvs': [{'flags': int(t.flags), 'type': t.type, 'len': t.len, 'value': t.value.hex()}
                     for t in r.tlv_objects],
        },
    })
print(json.dumps(out))
`

// scapyErrEst is an Error Estimate as scapy decodes it.
type scapyErrEst struct {
	S, Z, Scale, Multiplier int
}

// scapyTLV is a TLV as scapy decodes it (flags as one octet, value in hex).
type scapyTLV struct {
	Flags, Type, Len int
	Value            string
}

// scapyExchange is one test packet scapy built and the reply it decoded.
type scapyExchange struct {
	Sent struct {
		Len, SSID int
		Seq       uint32
		TS        uint64
		ErrEst    scapyErrEst `json:"err_estimate"`
	}
	Reflected struct {
		Len, SSID    int
		Seq          uint32
		TS           uint64
		ErrEst       scapyErrEst `json:"err_estimate"`
		TSRx         uint64      `json:"ts_rx"`
		SeqSender    uint32      `json:"seq_sender"`
		TSSender     uint64      `json:"ts_sender"`
		ErrEstSender scapyErrEst `json:"err_estimate_sender"`
		TTLSender    int         `json:"ttl_sender"`
		TLVs         []scapyTLV
	}
}

// scapyPython returns a python3 that can import scapy's STAMP layer (Debian's python3-scapy is seen by
// /usr/bin/python3, which need not be the python3 first on PATH), or skips the test.
func scapyPython(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		if path, err := exec.LookPath(name); err == nil && exec.Command(path, "-c", "import scapy.contrib.stamp").Run() == nil {
			return path
		}
	}
	t.Skip("python3 with scapy's STAMP layer (scapy.contrib.stamp) is not installed (.ci/run installs python3-scapy)")
	return ""
}

// runScapySender runs scapySender against addr and returns what it decoded.
func runScapySender(t *testing.T, python, addr string, ttl, count, ssid int) []scapyExchange {
	t.Helper()
	out, err := exec.Command(python, "-c", scapySender, addr, strconv.Itoa(ttl), strconv.Itoa(count),
		strconv.Itoa(ssid)).CombinedOutput()
	if err != nil {
		t.Fatalf("scapy sender: %v\n%s", err, out)
	}
	var ex []scapyExchange
	if err := json.Unmarshal(out, &ex); err != nil || len(ex) != count {
		t.Fatalf("scapy sender printed %q (%v), want %d exchanges", out, err, count)
	}
	t.Logf("scapy decoded: %s", out)
	return ex
}

// TestStampScapyInterop: scapy's STAMP layer builds unauthenticated test packets and decodes echogate's
// replies. Each reply is the test packet's size; the sender's sequence number, timestamp and Error Estimate
// are copied; the reflector's sequence number is the sender's (stateless) or counts 0, 1, 2 (stateful);
// T2 < T3 (the kernel's receive time, then the send: never one time for both), both NTP times of now; the
// S bit says what adjtimex says; the Session-Sender TTL is the one set with IP_TTL; the SSID is echoed and
// the Extra Padding TLV comes back as it came, with no flag set.
func TestStampScapyInterop(t *testing.T) {
	t.Parallel()
	python := scapyPython(t)
	d := echotest.Start(t, echotest.UDP("stateless", `mode = "stamp"`)+
		echotest.UDP("stateful", `mode = "stamp"`, "stamp_stateful = true"))
	synced := clockSyncedNow(t)
	const ttl, count = 13, 3
	padding := scapyTLV{Type: int(stamp.TypeExtraPadding), Len: 8, Value: "0000000000000000"} // no flag set
	for _, tc := range []struct {
		name     string
		stateful bool
		ssid     int
	}{{"stateless", false, 4242}, {"stateful", true, 77}} {
		before := time.Now().Add(-2 * time.Second).UnixNano()
		ex := runScapySender(t, python, d.Addr(tc.name), ttl, count, tc.ssid)
		after := time.Now().Add(2 * time.Second).UnixNano()
		for i, e := range ex {
			s, r := e.Sent, e.Reflected
			size, tlvs := stamp.UnauthSize, []scapyTLV{}
			if i == 2 {
				size, tlvs = stamp.UnauthSize+stamp.TLVHeader+8, []scapyTLV{padding}
			}
			if r.Len != s.Len || s.Len != size {
				t.Fatalf("%s: packet %d: reflected %d octets, test packet %d", tc.name, i, r.Len, s.Len)
			}
			want := s.Seq
			if tc.stateful {
				want = uint32(i)
			}
			if r.Seq != want || r.SeqSender != s.Seq || r.TSSender != s.TS || r.ErrEstSender != s.ErrEst {
				t.Fatalf("%s: packet %d: reflector seq %d (want %d), sender seq %d (sent %d), sender timestamp %#x "+
					"(sent %#x), sender error estimate %+v (sent %+v)", tc.name, i, r.Seq, want, r.SeqSender, s.Seq,
					r.TSSender, s.TS, r.ErrEstSender, s.ErrEst)
			}
			if r.TTLSender != ttl || r.SSID != tc.ssid || (r.ErrEst.S == 1) != synced || r.ErrEst.Z != 0 {
				t.Fatalf("%s: packet %d: Ses-Sender TTL %d (set %d), SSID %d (sent %d), error estimate %+v "+
					"(adjtimex says synchronised = %v)", tc.name, i, r.TTLSender, ttl, r.SSID, tc.ssid, r.ErrEst, synced)
			}
			t2, t3 := stamp.UnixNano(r.TSRx, false), stamp.UnixNano(r.TS, false)
			if t2 >= t3 || t2 < before || t3 > after {
				t.Fatalf("%s: packet %d: T2 %d, T3 %d, not T2 < T3 within [%d, %d]", tc.name, i, t2, t3, before, after)
			}
			if !slices.Equal(r.TLVs, tlvs) {
				t.Fatalf("%s: packet %d: TLVs %+v, want %+v", tc.name, i, r.TLVs, tlvs)
			}
		}
	}
}
