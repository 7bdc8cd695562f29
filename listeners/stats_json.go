package listeners

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// /stats json is O(listeners): with 10 000 listeners encoding/json took the loop 40 ms a request, so a stream
// of requests stopped every listener. It is now written by hand into a buffer the loop keeps, and with
// statsJSONCacheFrom listeners or more, a request less than statsJSONEvery after the last build is served
// that buffer as it is. Over UDP, a request whose reply budget is below the smallest reply it could get is
// dropped before anything is built.

// statsJSONEvery is how old the /stats json served may be.
const statsJSONEvery = 100 * time.Millisecond

// statsJSONCacheFrom is how many listeners it takes for /stats json to be served from the cache. Below it a
// build costs the loop a few tens of microseconds, so every request gets one and sees every counter as of
// now, as a script that changes something and then reads the counters expects.
const statsJSONCacheFrom = 100

// statsJSONCache is the last /stats json and what it was built from. It is owned by the loop goroutine.
type statsJSONCache struct {
	buf     []byte // the JSON object, no newline
	spare   []byte // the buffer before: the next build copies from buf into it, then they swap
	built   int64  // loop time of the build
	stamp   statsStamp
	valid   bool
	order   []statsEntry // the listeners /stats json lists, sorted by name
	orderOK bool
}

// statsStamp is the state that makes a cached /stats json wrong at once rather than just old.
type statsStamp struct {
	reloadsOK, reloadsFailed uint64
	listeners, draining      int
}

// statsKey is one listener of /stats json: a UDP socket, a TCP listener, or a removed TCP listener whose
// connections drain.
type statsKey struct {
	name     string
	tcp      *tcpListener
	udp      *udpEndpoint
	draining bool
}

// statsEntry is a listener of /stats json. It remembers what it showed last time, and where that is in the cached buffer: most
// listeners are idle between two builds, and copying their text is ten times faster than writing it again.
type statsEntry struct {
	statsKey
	shown   bool // at and end hold this listener's text in the cached buffer, made from seen and open
	at, end int
	open    int
	seen    Counters
}

// invalidate makes the next request build /stats json again (the listeners changed).
func (c *statsJSONCache) invalidate() { c.valid, c.orderOK = false, false }

func (l *Loop) statsStamp() statsStamp {
	return statsStamp{reloadsOK: l.stats.ReloadsOK, reloadsFailed: l.stats.ReloadsFailed,
		listeners: len(l.tcp) + len(l.udp), draining: len(l.draining)}
}

// statsCommand answers /stats with the argument arg: "", "json" or "json NAME".
func (l *Loop) statsCommand(out, arg []byte) []byte {
	switch {
	case len(arg) == 0:
		return l.appendStats(out)
	case string(arg) == "json":
		return append(append(out, l.cachedStatsJSON()...), '\n')
	case len(arg) > 4 && string(arg[:4]) == "json" && isSpace(arg[4]):
		return l.appendListenerStatsJSON(out, trimSpace(arg[4:]))
	}
	return append(out, replyUnknownArg...)
}

// statsJSONOverBudget reports whether line is "/stats json" and its reply cannot fit in budget bytes, so that
// a datagram asking for it is dropped before the reply is built. Each listener takes at least
// minListenerJSON bytes.
func (l *Loop) statsJSONOverBudget(line []byte, budget int) bool {
	cmd, _ := ParseCommand(line)
	if string(cmd.Name) != "stats" || string(cmd.Arg) != "json" {
		return false
	}
	return (len(l.tcp)+len(l.udp))*minListenerJSON > budget
}

// cachedStatsJSON returns /stats json: the cached one if it is recent and still right and the daemon has
// many listeners, else a new one.
func (l *Loop) cachedStatsJSON() []byte {
	c := &l.statsJSON
	stamp := l.statsStamp()
	if c.valid && c.stamp == stamp && l.nowNano-c.built < int64(statsJSONEvery) &&
		stamp.listeners >= statsJSONCacheFrom {
		return c.buf
	}
	if c.stamp != stamp {
		c.orderOK = false
	}
	next := l.buildStatsJSON(c.spare[:0], c.buf)
	c.buf, c.spare = next, c.buf
	c.built, c.stamp, c.valid = l.nowNano, stamp, true
	return c.buf
}

// buildStatsJSON appends the whole snapshot as one JSON object, as json.Marshal(l.snapshot()) would. prev
// is the last build, whose text of listeners that did not change since is copied.
func (l *Loop) buildStatsJSON(b, prev []byte) []byte {
	b, ok := l.appendStatsHead(b)
	if !ok {
		full, _ := json.Marshal(l.snapshot())
		return append(b, full...)
	}
	first := true
	order := l.statsOrder()
	for i := range order {
		e := &order[i]
		if e.draining && !l.stillDraining(e.tcp) {
			continue // its last connection has closed since the order was made
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		counters, open := e.now(l)
		at := len(b)
		if e.shown && e.open == open && e.seen == counters && e.end <= len(prev) {
			b = append(b, prev[e.at:e.end]...)
		} else {
			b = appendListenerJSON(b, e, open, &counters)
			e.seen, e.open, e.shown = counters, open, true
		}
		e.at, e.end = at, len(b)
	}
	return append(b, "}}"...)
}

// stillDraining reports whether ln still has connections to drain.
func (l *Loop) stillDraining(ln *tcpListener) bool {
	_, ok := l.draining[ln]
	return ok
}

// now returns the listener's counters, as /stats json shows them, and what is open on it.
func (e *statsEntry) now(l *Loop) (Counters, int) {
	if e.udp != nil {
		return l.withReloads(e.udp.stats), len(e.udp.peers)
	}
	return l.withReloads(e.tcp.stats), len(e.tcp.conns)
}

// appendListenerStatsJSON answers /stats json NAME: the same object as /stats json, with only that listener.
func (l *Loop) appendListenerStatsJSON(out, name []byte) []byte {
	e, ok := l.statsEntryNamed(name)
	if !ok {
		return append(out, replyUnknownListener...)
	}
	out, ok = l.appendStatsHead(out)
	if !ok {
		return append(out, replyUnknownArg...)
	}
	counters, open := e.now(l)
	return append(appendListenerJSON(out, &e, open, &counters), "}}\n"...)
}

// listenersOpen is how the daemon-wide part of /stats json ends with no listener: the listeners follow it.
const listenersOpen = `"listeners":{}}`

// appendStatsHead appends the daemon-wide fields of /stats json (encoding/json writes them: they are few, and
// others may add to them) up to `"listeners":{`. It reports false, appending nothing, if Listeners is no
// longer the last field.
func (l *Loop) appendStatsHead(b []byte) ([]byte, bool) {
	s := l.snapshotHead()
	s.Listeners = map[string]ListenerStats{}
	head, err := json.Marshal(s)
	if err != nil || !bytes.HasSuffix(head, []byte(listenersOpen)) {
		return b, false
	}
	return append(b, head[:len(head)-2]...), true
}

// statsOrder returns the listeners of /stats json sorted by name, as encoding/json orders a map. It makes the
// list again only when listeners came or went, and keeps what the listeners that stayed showed last time.
func (l *Loop) statsOrder() []statsEntry {
	c := &l.statsJSON
	if c.orderOK {
		return c.order
	}
	keys := make([]statsKey, 0, len(l.tcp)+len(l.udp)+len(l.draining))
	for name, ln := range l.tcp {
		keys = append(keys, statsKey{name: name, tcp: ln})
	}
	for name, u := range l.udp {
		keys = append(keys, statsKey{name: name, udp: u})
	}
	for ln := range l.draining {
		keys = append(keys, statsKey{name: ln.name, tcp: ln, draining: true})
	}
	slices.SortFunc(keys, statsKey.compare)
	// A serving listener hides a draining one of the same name, as in snapshot: it sorts first and wins.
	keys = slices.CompactFunc(keys, func(a, b statsKey) bool { return a.name == b.name })
	old := c.order
	c.order = make([]statsEntry, len(keys))
	for i, k := range keys {
		for len(old) > 0 && old[0].statsKey.compare(k) < 0 {
			old = old[1:]
		}
		if len(old) > 0 && old[0].statsKey == k {
			c.order[i] = old[0]
		} else {
			c.order[i] = statsEntry{statsKey: k}
		}
	}
	c.orderOK = true
	return c.order
}

// compare orders keys by name, then serving before draining.
func (k statsKey) compare(o statsKey) int {
	if n := strings.Compare(k.name, o.name); n != 0 {
		return n
	}
	switch {
	case k.draining == o.draining:
		return 0
	case k.draining:
		return 1
	}
	return -1
}

// statsEntryNamed finds the listener /stats json NAME asks for.
func (l *Loop) statsEntryNamed(name []byte) (statsEntry, bool) {
	if ln, ok := l.tcp[string(name)]; ok {
		return statsEntry{statsKey: statsKey{name: ln.name, tcp: ln}}, true
	}
	if u, ok := l.udp[string(name)]; ok {
		return statsEntry{statsKey: statsKey{name: u.name, udp: u}}, true
	}
	for ln := range l.draining {
		if ln.name == string(name) {
			return statsEntry{statsKey: statsKey{name: ln.name, tcp: ln, draining: true}}, true
		}
	}
	return statsEntry{}, false
}

// appendListenerJSON appends `"name":{...}` for one listener, as encoding/json writes a ListenerStats.
func appendListenerJSON(b []byte, e *statsEntry, open int, c *Counters) []byte {
	b = appendJSONString(b, e.name)
	var addr netip.AddrPort
	if e.udp != nil {
		b = append(b, `:{"protocol":"udp"`...)
		addr = e.udp.addr
	} else {
		b = append(b, `:{"protocol":"tcp"`...)
		addr = e.tcp.addr
	}
	if !e.draining {
		b = append(b, `,"address":`...)
		b = appendJSONAddr(b, addr)
	}
	b = append(b, `,"open":`...)
	b = strconv.AppendInt(b, int64(open), 10)
	if e.draining {
		b = append(b, `,"draining":true`...)
	}
	for i, v := range c.values() {
		b = append(b, counterKeys[i]...)
		b = strconv.AppendUint(b, v, 10)
	}
	return append(b, '}')
}

// numCounters is how many counters a Counters holds.
const numCounters = unsafe.Sizeof(Counters{}) / 8

// values views c as its counters, in declaration order (counterJSONKeys checks that they are all uint64).
func (c *Counters) values() *[numCounters]uint64 {
	return (*[numCounters]uint64)(unsafe.Pointer(c))
}

// counterKeys are `,"<json name>":` of each counter, in order.
var counterKeys = counterJSONKeys()

func counterJSONKeys() []string {
	t := reflect.TypeFor[Counters]()
	keys := make([]string, t.NumField())
	for i := range keys {
		f := t.Field(i)
		if f.Type.Kind() != reflect.Uint64 || f.Offset != uintptr(8*i) || t.NumField() != int(numCounters) {
			panic("listeners: every field of Counters must be a uint64 counter")
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		keys[i] = `,"` + name + `":`
	}
	return keys
}

// minListenerJSON is the fewest bytes one listener takes in /stats json: a one-letter name, no address, and
// every counter 0.
var minListenerJSON = len(`"x":{"protocol":"tcp","open":0}`) + len(strings.Join(counterKeys, "")) + len(counterKeys)

// appendJSONString appends s as a JSON string, escaped as encoding/json escapes it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonPlain(s[i]) {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONAddr appends the text of a as a JSON string, without allocating unless it needs escaping (a zone).
func appendJSONAddr(b []byte, a netip.AddrPort) []byte {
	start := len(b)
	b = a.AppendTo(append(b, '"'))
	if slices.ContainsFunc(b[start+1:], func(c byte) bool { return !jsonPlain(c) }) {
		return appendJSONString(b[:start], string(b[start+1:]))
	}
	return append(b, '"')
}

// jsonPlain reports whether encoding/json writes c as itself inside a string.
func jsonPlain(c byte) bool {
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}
