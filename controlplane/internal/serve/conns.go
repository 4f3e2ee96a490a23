package serve

import (
	"fmt"
	"net/http"
	"syscall"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/connlimit"
	"github.com/sproudstack/sproudchat/controlplane/internal/edge"
)

// Conns bound what the API and edge listeners hold open. Zero fields take the
// defaults: IdleTimeout the edge's, PerPeer connlimit.DefaultPerPeer, Edge and API
// from the process's file descriptor limit (connBudget).
type Conns struct {
	IdleTimeout time.Duration // a kept-alive connection with no request is closed after this; both servers
	PerPeer     int           // connections of one client address, on each listener
	Edge, API   int           // connections in all, per listener
}

// The API's timeouts. Its handlers answer within seconds and stream nothing, and the Go
// client gives up after 30 s, so a whole request may take a minute to arrive and its
// answer a minute to go: a client that trickles a body or reads the answer byte by byte
// loses its connection then.
const (
	apiReadTimeout  = time.Minute
	apiWriteTimeout = time.Minute
)

// fdReserveMax is the most descriptors kept for what is not a listener's connection:
// the database pool, the Docker engine's client, the upstream connections the edge
// keeps idle (at most 256), log files, the process runtime's children and their pipes.
const fdReserveMax = 1024

// apiConnsMax is the most connections the API holds open: its clients are the billing
// system and ops, a handful of programs.
const apiConnsMax = 1024

// connBudget splits a file descriptor limit between the listeners: a reserve first
// (a quarter of the limit, at most fdReserveMax), then a sixteenth of the rest for the
// API (at most apiConnsMax), and half of what remains for the edge, since each edge
// connection may hold an upstream connection too. So a full edge refuses new
// connections while the API, the database and the instances' connections still get
// descriptors.
func connBudget(limit uint64) (edgeConns, apiConns int) {
	const most = 1 << 24 // RLIM_INFINITY and other huge values
	l := int(min(limit, most))
	free := l - min(l/4, fdReserveMax)
	apiConns = max(1, min(free/16, apiConnsMax))
	edgeConns = max(1, (free-apiConns)/2)
	return edgeConns, apiConns
}

// withDefaults fills c's zero fields.
func (c Conns) withDefaults() (Conns, error) {
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = edge.IdleTimeout
	}
	if c.PerPeer == 0 {
		c.PerPeer = connlimit.DefaultPerPeer
	}
	if c.Edge == 0 || c.API == 0 {
		var rl syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return c, fmt.Errorf("read the file descriptor limit: %w", err)
		}
		e, a := connBudget(rl.Cur) // Go raised the soft limit to the hard one at start
		if c.Edge == 0 {
			c.Edge = e
		}
		if c.API == 0 {
			c.API = a
		}
	}
	return c, nil
}

// apiServer is the API's http.Server.
func apiServer(h http.Handler, c Conns) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: edge.ReadHeaderTimeout, ReadTimeout: apiReadTimeout,
		WriteTimeout: apiWriteTimeout, IdleTimeout: c.IdleTimeout}
}
