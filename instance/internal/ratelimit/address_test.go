package ratelimit

import "testing"

func TestAddressKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, ip, want string }{
		{"IPv4 as it is", "198.51.100.7", "198.51.100.7"},
		{"IPv4 neighbours differ", "198.51.100.8", "198.51.100.8"},
		{"IPv4-mapped IPv6 is the IPv4 address", "::ffff:198.51.100.7", "198.51.100.7"},
		{"IPv6 by its /64", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"another address of the same /64", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"the next /64 is another key", "2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"written in capitals and short", "2001:DB8:1:2::9", "2001:db8:1:2::/64"},
		{"zone dropped", "fe80::1%eth0", "fe80::/64"},
		{"IPv6 loopback", "::1", "::/64"},
		{"empty", "", ""},
		{"not an address", "unknown", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := AddressKey(tc.ip); got != tc.want {
				t.Errorf("AddressKey(%q) = %q, want %q", tc.ip, got, tc.want)
			}
		})
	}
}
