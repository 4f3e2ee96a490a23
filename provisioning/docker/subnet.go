package docker

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"

	"github.com/docker/docker/api/types/network"
)

// DefaultSubnetPool is where instance networks get their subnets. Docker's own default
// pools hold about 31 bridge networks, far too few for one network per instance, so
// the driver allocates a small subnet per instance itself.
const DefaultSubnetPool = "10.213.0.0/16"

// DefaultSubnetBits: a /28 holds 14 addresses: the gateway, the app, a database, spares.
const DefaultSubnetBits = 28

// subnets splits a pool into subnets of the given size.
type subnets struct {
	pool netip.Prefix
	bits int
}

func newSubnets(pool string, bits int) (subnets, error) {
	p, err := netip.ParsePrefix(pool)
	if err != nil || !p.Addr().Is4() || bits <= p.Bits() || bits > 29 {
		return subnets{}, fmt.Errorf("subnet pool %q with /%d subnets: need an IPv4 prefix shorter than /%d", pool, bits, bits)
	}
	return subnets{pool: p.Masked(), bits: bits}, nil
}

func (s subnets) count() int { return 1 << (s.bits - s.pool.Bits()) }

func (s subnets) nth(i int) netip.Prefix {
	base := s.pool.Addr().As4()
	n := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	n += uint32(i) << (32 - s.bits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), s.bits)
}

// createNetwork creates the instance's bridge network on a free subnet of the pool. It
// starts at a slot derived from the id and probes onward past subnets in use, so
// concurrent applies rarely contend and a lost race just moves to the next slot.
func (r *Runtime) createNetwork(ctx context.Context, name string, lbl map[string]string, id string) error {
	all, err := r.engine.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	used := map[netip.Prefix]bool{}
	for _, n := range all {
		for _, c := range n.IPAM.Config {
			if p, err := netip.ParsePrefix(c.Subnet); err == nil {
				used[p.Masked()] = true
			}
		}
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	start, total := int(h.Sum32()%uint32(r.subnets.count())), r.subnets.count()
	for i := 0; i < total; i++ {
		cand := r.subnets.nth((start + i) % total)
		if used[cand] || overlapsAny(cand, used) {
			continue
		}
		_, err := r.engine.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge", Labels: lbl,
			IPAM: &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: cand.String()}}}})
		switch {
		case err == nil:
			return nil
		case strings.Contains(err.Error(), "overlap"):
			used[cand] = true // taken meanwhile: try the next slot
		case isConflict(err):
			return nil // created by a concurrent apply of the same instance
		default:
			return fmt.Errorf("create network %s: %w", name, err)
		}
	}
	return fmt.Errorf("create network %s: no free /%d left in %s", name, r.subnets.bits, r.subnets.pool)
}

func overlapsAny(p netip.Prefix, used map[netip.Prefix]bool) bool {
	for u := range used {
		if u.Overlaps(p) {
			return true
		}
	}
	return false
}
