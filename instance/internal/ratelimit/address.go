package ratelimit

import "net/netip"

// AddressKey is the key under which every per-address limit counts a client: an IPv4
// address as it is, an IPv6 address as its /64. A provider gives one customer at least
// a /64, so counting IPv6 per full address would give anyone 2^64 fresh counts. A
// string that is no address is its own key. Only limits use it: logs and the audit log
// keep the full address.
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}
