package config

import (
	"reflect"
	"slices"
	"strings"
)

// ActionKind is what a reload does with one listener.
type ActionKind string

// The kinds of Action.
const (
	Keep   ActionKind = "keep"   // nothing changed: the socket and its rules stay as they are
	Add    ActionKind = "add"    // a new listener: bind (or adopt) its socket
	Remove ActionKind = "remove" // gone: stop accepting, drain its connections
	Update ActionKind = "update" // same socket, new rules
	Rebind ActionKind = "rebind" // protocol or address changed: bind the new socket, then close the old one
)

// Action is one step of a reload plan, for the listener called Name.
type Action struct {
	Kind ActionKind
	Name string
	// Old is the listener in the running config (nil for Add); New the one in the
	// new config (nil for Remove).
	Old, New *Listener
	// Changed lists the TOML keys whose values differ, sorted; a changed token
	// (its content, never shown) is the key "token".
	Changed []string
	// Socket is where the listener's socket comes from: SocketKeep for Keep and Update, one of the others
	// for Add and Rebind, "" for Remove.
	Socket SocketSource
	// From names the leaving listener (a Remove or the old side of a Rebind) whose socket is handed over,
	// when Socket is SocketListener.
	From string
	// Conns names the leaving TCP listener whose open connections this one goes on serving: its own old
	// side on a Rebind that stays TCP, From on a rename. "" when it starts with none. The connections of
	// a leaving listener that no action names drain.
	Conns string
}

// SocketSource is where the socket of an Action comes from.
type SocketSource string

// The sources of a socket.
const (
	SocketKeep     SocketSource = "keep"     // the listener keeps its own socket
	SocketBind     SocketSource = "bind"     // a new socket is bound
	SocketSystemd  SocketSource = "systemd"  // the socket systemd passed under the listener's name is adopted
	SocketListener SocketSource = "listener" // the socket of the leaving listener From is handed over
)

// SocketString describes where the action's socket and connections come from, for a golden file or a
// debug line: "socket from diag, connections of diag", "socket bind", "" for a Remove.
func (a Action) SocketString() string {
	s := "socket " + string(a.Socket)
	switch {
	case a.Socket == "":
		return ""
	case a.Socket == SocketListener:
		s = "socket from " + a.From
	}
	if a.Conns != "" {
		s += ", connections of " + a.Conns
	}
	return s
}

// String describes the action in one line: "update diag: allow,max_line",
// "rebind diag: address", "add x", "remove y", "keep z".
func (a Action) String() string {
	s := string(a.Kind) + " " + a.Name
	if len(a.Changed) > 0 {
		s += ": " + strings.Join(a.Changed, ",")
	}
	return s
}

// Plan is PlanActivated for a process that systemd passed no sockets.
func Plan(old, new *Config) []Action { return PlanActivated(old, new, nil) }

// PlanActivated compares two validated configs and returns what a reload must do. Listeners are
// identified by name: a renamed listener is removed and a new one added. Same name,
// protocol and address gives Keep or Update; another protocol or address gives Rebind.
// Actions come in the new file's order, then the removals in the old file's order.
// old may be nil (a first start): every listener is then added. systemd holds the names
// systemd passed sockets under (nil when it passed none). Every action says where its
// socket comes from (see planSockets). PlanActivated has no side effects.
func PlanActivated(old, new *Config, systemd map[string]bool) []Action {
	before := map[string]*Listener{}
	if old != nil {
		for i := range old.Listeners {
			before[old.Listeners[i].Name] = &old.Listeners[i]
		}
	}
	var plan []Action
	seen := map[string]bool{}
	for i := range new.Listeners {
		n := &new.Listeners[i]
		seen[n.Name] = true
		o, ok := before[n.Name]
		if !ok {
			plan = append(plan, Action{Kind: Add, Name: n.Name, New: n})
			continue
		}
		a := Action{Kind: Keep, Name: n.Name, Old: o, New: n, Changed: ListenerChanged(o, n), Socket: SocketKeep}
		switch {
		case o.Protocol != n.Protocol || o.Address != n.Address:
			a.Kind = Rebind
		case len(a.Changed) > 0:
			a.Kind = Update
		}
		plan = append(plan, a)
	}
	if old != nil {
		for i := range old.Listeners {
			if o := &old.Listeners[i]; !seen[o.Name] {
				plan = append(plan, Action{Kind: Remove, Name: o.Name, Old: o})
			}
		}
	}
	planSockets(plan, systemd)
	return plan
}

// planSockets decides where the socket of every Add and Rebind comes from, in the plan's order:
//   - systemd, when systemd passed a socket under the listener's name;
//   - the socket of a listener that leaves the same protocol and address in this plan (a rename, two
//     listeners swapping ports, a listener moving to an address another one leaves), so no port is closed;
//     an address with port 0 binds afresh, since each bind of it gets another port;
//   - otherwise a new socket is bound.
//
// A TCP listener keeps the connections of its own old side on a Rebind that stays TCP; on a rename (an
// Add taking the socket of a removed TCP listener) the connections follow the socket.
func planSockets(plan []Action, systemd map[string]bool) {
	leaving := map[string][]*Action{} // by protocol/address, the Removes and Rebinds, in the plan's order
	for i := range plan {
		if a := &plan[i]; a.Kind == Remove || a.Kind == Rebind {
			if ap, err := a.Old.AddrPort(); err == nil && ap.Port() != 0 {
				leaving[socketKey(a.Old)] = append(leaving[socketKey(a.Old)], a)
			}
		}
	}
	for i := range plan {
		a := &plan[i]
		if a.Kind != Add && a.Kind != Rebind {
			continue
		}
		if a.Kind == Rebind && a.New.Protocol == TCP && a.Old.Protocol == TCP {
			a.Conns = a.Name
		}
		a.Socket = SocketBind
		if systemd[a.Name] {
			a.Socket = SocketSystemd
			continue
		}
		k := socketKey(a.New)
		if len(leaving[k]) == 0 {
			continue
		}
		from := leaving[k][0]
		leaving[k] = leaving[k][1:]
		a.Socket, a.From = SocketListener, from.Name
		if a.Kind == Add && from.Kind == Remove && a.New.Protocol == TCP {
			a.Conns = from.Name
		}
	}
}

// socketKey identifies a protocol and configured address, whose socket can be handed over.
func socketKey(l *Listener) string { return string(l.Protocol) + "/" + l.Address }

// ListenerChanged lists, sorted, the TOML keys whose values differ between two
// listeners, plus "token" when the token read from its source differs and "tls_files" when the TLS
// certificate, key or client CAs read from their files differ. When the
// protocol changes, the keys of only one protocol are left out: they all start afresh.
func ListenerChanged(old, new *Listener) []string {
	var changed []string
	eachChangedKey(old, new, func(k keySpec) { changed = append(changed, k.name) })
	if old.Token != new.Token {
		changed = append(changed, "token")
	}
	if old.StampKey != new.StampKey {
		changed = append(changed, "stamp_key")
	}
	if tlsDigest(old) != tlsDigest(new) {
		changed = append(changed, "tls_files")
	}
	slices.Sort(changed)
	return changed
}

// Change is one key whose value differs between two listeners, with both values written as in a log line.
type Change struct {
	Key      string
	Old, New string // "" for the key "token": its content is never shown
}

// String writes the change as "max_conns 1024→50", "token changed" for a token, or "tls files changed".
func (c Change) String() string {
	switch c.Key {
	case "token", "stamp_key":
		return c.Key + " changed"
	case "tls_files":
		return "tls files changed"
	}
	return c.Key + " " + c.Old + "→" + c.New
}

// ListenerDiff is ListenerChanged with the old and new values of every key, in the same order; a changed
// token is a Change with no values.
func ListenerDiff(old, new *Listener) []Change {
	var diff []Change
	eachChangedKey(old, new, func(k keySpec) {
		diff = append(diff, Change{Key: k.name, Old: k.format(k.get(old)), New: k.format(k.get(new))})
	})
	if old.Token != new.Token {
		diff = append(diff, Change{Key: "token"})
	}
	if old.StampKey != new.StampKey {
		diff = append(diff, Change{Key: "stamp_key"})
	}
	if tlsDigest(old) != tlsDigest(new) {
		diff = append(diff, Change{Key: "tls_files"})
	}
	slices.SortFunc(diff, func(a, b Change) int { return strings.Compare(a.Key, b.Key) })
	return diff
}

// eachChangedKey calls fn for every key of the table whose value differs, leaving out the keys of only one
// protocol when the protocol changes.
func eachChangedKey(old, new *Listener, fn func(k keySpec)) {
	for _, k := range listenerKeys {
		if k.only != "" && old.Protocol != new.Protocol {
			continue
		}
		if !reflect.DeepEqual(k.get(old), k.get(new)) {
			fn(k)
		}
	}
}

// DaemonChanged lists, sorted, the [daemon] keys whose values differ.
func DaemonChanged(old, new *Config) []string {
	var changed []string
	for _, k := range daemonKeys {
		if !reflect.DeepEqual(k.get(&old.Daemon), k.get(&new.Daemon)) {
			changed = append(changed, k.name)
		}
	}
	slices.Sort(changed)
	return changed
}

// tlsDigest is the digest of l's TLS files as read, zero on a plain listener.
func tlsDigest(l *Listener) [32]byte {
	if l.TLS == nil {
		return [32]byte{}
	}
	return l.TLS.Digest
}
