package config

// proxyAllow checks that a listener reading PROXY headers says whom it trusts to send them: a header names
// the client that every other rule then judges, so trusting one is an explicit decision, never a default.
func (v *validator) proxyAllow(i int) {
	l := &v.c.Listeners[i]
	if v.failedKey(i, "proxy_protocol") || v.failedKey(i, "proxy_allow") || l.ProxyProtocol == ProxyOff ||
		l.ProxyProtocol == "" {
		return
	}
	switch {
	case l.ProxyAllow == nil:
		v.add(i, "proxy_protocol", "proxy_protocol = %q needs proxy_allow, the balancers trusted to send a header",
			l.ProxyProtocol)
	case len(l.ProxyAllow) == 0:
		v.add(i, "proxy_allow", "proxy_allow = [] trusts no balancer; list the balancers' CIDRs, or set proxy_protocol = \"off\"")
	}
}
