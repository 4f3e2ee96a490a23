package edge

import (
	"net"
	"net/http"
	"time"

	"github.com/pires/go-proxyproto"

	"github.com/sproudstack/sproudchat/controlplane/internal/connlimit"
)

// IdleTimeout is how long the edge keeps a keep-alive connection that carries no
// request. Longer than the 60 s idle timeout of the usual load balancers and proxies
// in front of it (AWS ALB, nginx's upstream keepalive), so such a proxy closes its
// pooled connection first and never sends a request on one the edge is closing; short
// enough that idle connections cannot pile up.
const IdleTimeout = 2 * time.Minute

// ReadHeaderTimeout bounds reading a request's header: a client that trickles it
// holds its connection no longer than this.
const ReadHeaderTimeout = 10 * time.Second

// Server returns the edge's http.Server over r. It has no ReadTimeout and no
// WriteTimeout on purpose: net/http keeps a ReadTimeout's deadline while the handler
// runs and cancels the request's context when it passes, and a WriteTimeout fails any
// write after it, so either would cut off server-sent events, long polls and slow
// downloads or uploads of the instances behind the edge. WebSockets are hijacked
// connections, whose deadlines net/http clears. What bounds slow or idle clients
// instead: ReadHeaderTimeout, IdleTimeout, and the caps of Listener.
func (r *Router) Server() *http.Server {
	return &http.Server{Handler: r, ReadHeaderTimeout: r.headerTimeout, IdleTimeout: r.idleTimeout}
}

// Listener wraps the edge's listener. It caps the open connections per visitor address
// and in all (Options.MaxConnsPerPeer, Options.MaxConns); a connection past a cap is
// closed at once. Trusted proxies may open a connection with a PROXY protocol header
// (v1 or v2), whose source address then stands for the connecting peer; the header is
// optional for them, and from anyone else it is read and thrown away, never required.
//
// A trusted proxy's connections are exempt from the per-peer cap: a proxy that speaks
// HTTP to the edge (X-Forwarded-For) carries many visitors over each of its pooled
// connections, and the visitor is not known until a request is read. But a connection
// that opens with a PROXY header is one visitor's connection passed through (a
// layer-4 proxy such as HAProxy in TCP mode or a network load balancer), so it counts
// for the visitor the header names: one visitor behind such a proxy may not hold more
// than a visitor who connects directly.
func (r *Router) Listener(ln net.Listener) net.Listener {
	if len(r.trusted) > 0 {
		ln = &proxyproto.Listener{Listener: ln, ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			if a, ok := parseAddr(o.Upstream.String()); ok && r.trusted.has(a) {
				return proxyproto.USE, nil
			}
			return proxyproto.IGNORE, nil
		}}
	}
	return connlimit.New(ln, connlimit.Options{Name: "edge", PerPeer: r.perPeer, Total: r.maxConns, Exempt: r.trusted.has,
		Logger: r.log, Clock: r.clock})
}
