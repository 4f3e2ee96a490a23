package edge

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies reads --trusted-proxies: CIDRs separated by commas, where a bare
// address means that one host. "" is none. Returns an error naming the first bad entry.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is neither a CIDR (10.0.0.0/8) nor an address", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// trust is the set of trusted proxies.
type trust []netip.Prefix

func (t trust) has(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// client returns the visitor's address and the scheme they used. The connecting peer
// (after a PROXY header, which only trusted peers may send) is the visitor unless it
// is a trusted proxy; then X-Forwarded-For is read from the right, each address added
// by the hop after it, and the first one that is not itself a trusted proxy is the
// visitor. Whatever lies left of it was written by the visitor and is ignored.
func (t trust) client(req *http.Request) (addr, proto string) {
	proto = "http"
	if req.TLS != nil {
		proto = "https"
	}
	peer, ok := parseAddr(req.RemoteAddr)
	if !ok {
		host, _, _ := net.SplitHostPort(req.RemoteAddr)
		return host, proto
	}
	if !t.has(peer) {
		return peer.String(), proto
	}
	if v := lastListValue(req.Header.Values("X-Forwarded-Proto")); v == "http" || v == "https" {
		proto = v
	}
	var hops []string
	for _, v := range req.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseAddr(strings.TrimSpace(hops[i]))
		if !ok {
			break // a trusted hop reported garbage: the last address we can stand by
		}
		client = a
		if !t.has(a) {
			break
		}
	}
	return client.String(), proto
}

// parseAddr reads "203.0.113.7", "[2001:db8::1]", or either with a port.
func parseAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func lastListValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	v := values[len(values)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.ToLower(strings.TrimSpace(v))
}
