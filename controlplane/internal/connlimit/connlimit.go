// Package connlimit bounds the connections a listener holds open, per client address
// and in all, so that one client cannot take every file descriptor of the process (and
// with them the other listeners, the database and the upstream connections). A
// connection past a cap is accepted and closed at once: the listener degrades by
// refusing new connections, never by failing the ones it serves.
package connlimit

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/sproudstack/sproudchat/platform/clock"
)

// DefaultPerPeer is how many connections one client address may hold open by default:
// far more than a browser opens to one site (six per host, a few WebSockets, a few
// tabs) or than a household or office behind one NAT address needs at once, and far
// fewer than the thousands that exhaust a process's descriptors.
const DefaultPerPeer = 256

// LogEvery spaces the log lines about refused connections: under attack they come by
// the thousand a second, and the log must stay readable (each line counts those it
// stands for).
const LogEvery = time.Minute

// ErrRefused is what the first Read of a connection returns when the client its PROXY
// header names is over its cap; the connection is closed.
var ErrRefused = errors.New("connection refused: too many connections from this client")

// Options configure a Listener.
type Options struct {
	Name string // names the listener in log lines: edge, api
	// PerPeer caps the open connections of one client address; an IPv6 client counts
	// per /64, which one subscriber usually holds whole. 0: DefaultPerPeer; < 0: no cap.
	PerPeer int
	// Total caps the open connections in all, exempt peers' included; 0: no cap.
	Total int
	// Exempt tells the peers not held to PerPeer: trusted proxies, which carry many
	// visitors over their connections. When such a connection opens with a PROXY
	// header naming another client (a layer-4 proxy passes each client connection
	// through as one of its own), that client is held to PerPeer instead; see New.
	Exempt func(netip.Addr) bool
	Logger *slog.Logger
	Clock  clock.Clock // spaces the log lines (LogEvery)
}

// Listener is a net.Listener that keeps to its Options' caps.
type Listener struct {
	net.Listener
	o Options

	mu      sync.Mutex
	total   int
	peers   map[netip.Prefix]int
	refused int       // since the last log line
	logged  time.Time // when the last log line was written
}

// New wraps ln. The peer of a connection is its address at the socket: when ln is a
// PROXY protocol listener, the connection's Raw() one. A connection from an Exempt peer
// is counted, at its first Read, for the address its RemoteAddr names then (after the
// PROXY header) if that is another address; without a header it stays exempt.
func New(ln net.Listener, o Options) *Listener {
	if o.PerPeer == 0 {
		o.PerPeer = DefaultPerPeer
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Exempt == nil {
		o.Exempt = func(netip.Addr) bool { return false }
	}
	return &Listener{Listener: ln, o: o, peers: map[netip.Prefix]int{}}
}

// Accept returns the next connection within the caps; those past a cap are closed
// here and never returned.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		raw, ok := addrOf(socket(c).RemoteAddr())
		if ok && l.o.Exempt(raw) {
			if reason := l.take(netip.Prefix{}, false, true); reason != "" {
				l.refuse(Key(raw), reason)
				c.Close()
				continue
			}
			return &conn{Conn: c, l: l, raw: raw, deferred: true}, nil
		}
		peer := Key(raw) // an address we cannot read counts as one (invalid) key of its own
		if reason := l.take(peer, true, true); reason != "" {
			l.refuse(peer, reason)
			c.Close()
			continue
		}
		return &conn{Conn: c, l: l, peer: peer, counted: true}, nil
	}
}

// Key is what a client address is counted as: an IPv4 address itself, an IPv6 address
// its /64.
func Key(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, a.BitLen())
}

// take counts one connection: of peer (perPeer) and in all (total); or returns why it
// may not, checking and counting in one step.
func (l *Listener) take(peer netip.Prefix, perPeer, total bool) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case total && l.o.Total > 0 && l.total >= l.o.Total:
		return "total cap"
	case perPeer && l.o.PerPeer > 0 && l.peers[peer] >= l.o.PerPeer:
		return "per-peer cap"
	}
	if total {
		l.total++
	}
	if perPeer {
		l.peers[peer]++
	}
	return ""
}

// release gives back what take counted.
func (l *Listener) release(peer netip.Prefix, perPeer, total bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if total {
		l.total--
	}
	if perPeer {
		if l.peers[peer]--; l.peers[peer] <= 0 {
			delete(l.peers, peer)
		}
	}
}

// refuse logs a refused connection, at most once per LogEvery.
func (l *Listener) refuse(peer netip.Prefix, reason string) {
	l.mu.Lock()
	l.refused++
	now := l.o.Clock.Now()
	if !l.logged.IsZero() && now.Sub(l.logged) < LogEvery {
		l.mu.Unlock()
		return
	}
	n, total, peers := l.refused, l.total, len(l.peers)
	l.refused, l.logged = 0, now
	l.mu.Unlock()
	l.o.Logger.Warn("connections refused", "listener", l.o.Name, "reason", reason, "peer", peer.String(),
		"refused", n, "open", total, "peers", peers, "per_peer_cap", l.o.PerPeer, "total_cap", l.o.Total)
}

// conn gives back its count when closed.
type conn struct {
	net.Conn
	l *Listener
	// deferred: the peer is exempt; the first Read counts the client its PROXY
	// header names, if any (raw is the peer's own address).
	deferred bool
	raw      netip.Addr
	admit    sync.Once
	err      error // from admit: the client is over its cap

	mu      sync.Mutex
	peer    netip.Prefix
	counted bool // peer holds one of this connection
	closed  bool
}

func (c *conn) Read(b []byte) (int, error) {
	if c.deferred {
		c.admit.Do(c.admitClient)
		if c.err != nil {
			return 0, c.err
		}
	}
	return c.Conn.Read(b)
}

// admitClient counts the client a trusted peer's PROXY header named; past its cap the
// connection is closed.
func (c *conn) admitClient() {
	a, ok := addrOf(c.Conn.RemoteAddr()) // reads the PROXY header, if the peer sends one
	if !ok || a == c.raw {
		return
	}
	peer := Key(a)
	if reason := c.l.take(peer, true, false); reason != "" {
		c.err = ErrRefused
		c.l.refuse(peer, reason)
		c.Close()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.l.release(peer, true, false)
		return
	}
	c.peer, c.counted = peer, true
}

func (c *conn) Close() error {
	c.mu.Lock()
	first := !c.closed
	c.closed = true
	peer, counted := c.peer, c.counted
	c.mu.Unlock()
	if first {
		c.l.release(peer, counted, true)
	}
	return c.Conn.Close()
}

// socket returns the connection at the socket, under a PROXY protocol wrapper.
func socket(c net.Conn) net.Conn {
	if r, ok := c.(interface{ Raw() net.Conn }); ok {
		return r.Raw()
	}
	return c
}

func addrOf(a net.Addr) (netip.Addr, bool) {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return ap.Addr().Unmap(), ap.Addr().IsValid()
	}
	if a == nil {
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}
