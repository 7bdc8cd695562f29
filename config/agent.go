package config

import "slices"

// optionalAddress normalises a host:port like a listener's address; "" (off) stays "".
func optionalAddress(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	return normalizeAddress(s)
}

// agents checks that the agent_listeners of an agent listener name other listeners of the file. Like max_line
// in mode raw, the agent keys are allowed, and unused, on a TCP listener of another mode.
func (v *validator) agents() {
	for i := range v.c.Listeners {
		l := &v.c.Listeners[i]
		if l.Protocol != TCP || l.Mode != ModeAgent {
			continue
		}
		if l.ProxyProtocol != "" && l.ProxyProtocol != ProxyOff {
			// The agent answers the balancer itself, first and at once: there is no client behind it.
			v.add(i, "proxy_protocol", `proxy_protocol must be "off" on an agent listener (it answers the balancer itself)`)
		}
		for _, name := range l.AgentListeners {
			switch {
			case name == l.Name:
				v.add(i, "agent_listeners", "agent_listeners names this listener itself (%q)", name)
			case !slices.ContainsFunc(v.c.Listeners, func(o Listener) bool { return o.Name == name }):
				v.add(i, "agent_listeners", "agent_listeners: no listener is named %q", name)
			}
		}
	}
}
