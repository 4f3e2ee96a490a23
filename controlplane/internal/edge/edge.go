// Package edge routes each customer's traffic to their instance: Host <slug>.<base
// domain> → the upstream the runtime reported, WebSockets and streaming included. The
// table is rebuilt from the store on every state change (and every few seconds, for
// changes made by another control-plane process), not by asking the runtime per
// request.
//
// An upstream is a host port that the runtime may hand to someone else: Docker gives a
// restarted container a new random port and frees the old one. So the edge never
// trusts an address alone. Every new upstream connection first asks GET /healthz on
// that very connection and checks the instance id in its answer (see upstream.go);
// only then does it carry a visitor's request. Only when the stored address does not
// answer as the instance does the edge ask the runtime where the instance is now (at
// most once a second per instance).
//
// An app started before its runtime passed SPROUDCHAT_INSTANCE_ID answers /healthz with
// no id at all (a legacy instance). Such a connection is used only when the runtime,
// asked after that answer came, says the instance's app runs and is ready at exactly
// that address, and said the same app was there before the connection was dialled
// (see legacy.go). So each new connection to a legacy instance costs a question to the
// runtime (shared by concurrent ones, one at a time per instance); pooled connections
// cost none. An answer with another id is always refused.
package edge

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/provisioning"
)

// Routes is where the table comes from.
type Routes interface {
	Routes(ctx context.Context) ([]lifecycle.Route, error)
}

// Locator tells where an instance's app answers now: the runtime.
type Locator interface {
	// Status reports the instance; its Upstream is where the app listens.
	Status(ctx context.Context, id string) (provisioning.Status, error)
}

// Options configure a Router.
type Options struct {
	BaseDomain string // instances live at <slug>.<BaseDomain>
	Logger     *slog.Logger
	// Locator is asked where an instance is when its stored upstream does not answer as
	// that instance; nil: never asked, such requests get 502.
	Locator Locator
	// TrustedProxies are the peers (TLS terminators, load balancers) whose
	// X-Forwarded-For, X-Forwarded-Proto and PROXY protocol header are believed.
	TrustedProxies []netip.Prefix
	// CheckTimeout bounds dialling and checking one new upstream connection; default 5s.
	CheckTimeout time.Duration
	// Clock spaces the runtime questions about one instance (see LookupEvery) and the
	// log lines about refused connections.
	Clock clock.Clock
	// IdleTimeout and ReadHeaderTimeout are the Server's; defaults the constants of
	// the same names.
	IdleTimeout, ReadHeaderTimeout time.Duration
	// MaxConnsPerPeer caps the connections one visitor address holds open (an IPv6
	// visitor's /64; see Listener); 0: connlimit.DefaultPerPeer.
	MaxConnsPerPeer int
	// MaxConns caps the edge's open connections in all; 0: no cap. serve sets it below
	// the process's file descriptor limit, so a full edge refuses new connections
	// instead of starving the API, the database and the upstream connections.
	MaxConns int
}

// LookupEvery is how often the edge asks the runtime about one instance at most: a
// visitor hammering an instance that is down must not hammer the engine's API too.
const LookupEvery = time.Second

// Router is the edge's http.Handler.
type Router struct {
	src        Routes
	baseDomain string
	log        *slog.Logger
	locator    Locator
	trusted    trust
	timeout    time.Duration
	clock      clock.Clock
	proxy      *httputil.ReverseProxy
	transport  *http.Transport
	lookups    singleflight.Group

	// for Server and Listener
	idleTimeout, headerTimeout time.Duration
	perPeer, maxConns          int

	mu    sync.RWMutex
	table map[string]entry // by slug
	byID  map[string]string
	// moved holds where the runtime said an instance is now, while the store still
	// names the address it had before (the reconciler writes it only on state changes).
	moved map[string]moved
	// asked holds the runtime's last answer about an instance, reused for LookupEvery.
	asked map[string]answer
	// questions counts the questions put to the runtime so far (see answer.n).
	questions uint64
	// legacy holds the instances already logged as answering no id.
	legacy map[string]bool
}

// answer is what the runtime said about an instance, and when.
type answer struct {
	upstream string
	running  bool   // the app runs (provisioning.PhaseRunning)
	ready    bool   // and answered /readyz when the runtime looked
	app      string // the runtime's name of the app: its container, its process
	err      error
	at       time.Time
	n        uint64 // the question's number, taken when it was put: later ones are larger
}

type entry struct {
	id       string
	state    lifecycle.State
	upstream string
}

// moved is an upstream learnt from the runtime; it holds while the store's upstream is
// still base.
type moved struct{ base, upstream string }

// New returns a router over the routes of src.
func New(src Routes, o Options) *Router {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = 5 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = IdleTimeout
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = ReadHeaderTimeout
	}
	r := &Router{src: src, baseDomain: strings.ToLower(o.BaseDomain), log: o.Logger, locator: o.Locator, trusted: o.TrustedProxies,
		timeout: o.CheckTimeout, clock: o.Clock, idleTimeout: o.IdleTimeout, headerTimeout: o.ReadHeaderTimeout,
		perPeer: o.MaxConnsPerPeer, maxConns: o.MaxConns,
		table: map[string]entry{}, byID: map[string]string{}, moved: map[string]moved{}, asked: map[string]answer{}, legacy: map[string]bool{}}
	// One pool for all instances, keyed by instance id (the URL host of every outgoing
	// request), so a connection checked for one instance is never used for another.
	r.transport = &http.Transport{
		DialContext:           r.dial,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	r.proxy = &httputil.ReverseProxy{
		Rewrite:       r.rewrite,
		Transport:     r.transport,
		FlushInterval: -1, // stream as it comes (server-sent events, long polls)
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			r.log.WarnContext(req.Context(), "edge upstream failed", "instance_id", targetOf(req.Context()).id, "error", err.Error())
			w.Header().Set("Retry-After", "5")
			page(w, http.StatusBadGateway, "Instance not answering", "This sproudchat instance does not answer right now. Please try again shortly.")
		},
	}
	return r
}

// Refresh rebuilds the table from the store. A live instance wins its slug over the
// tombstones of earlier ones. An upstream learnt from the runtime is dropped once the
// store's upstream of that instance changes.
func (r *Router) Refresh(ctx context.Context) error {
	routes, err := r.src.Routes(ctx)
	if err != nil {
		return fmt.Errorf("load routes: %w", err)
	}
	t := make(map[string]entry, len(routes))
	for _, rt := range routes {
		if prev, ok := t[rt.Slug]; ok && prev.state != lifecycle.Destroyed && rt.State == lifecycle.Destroyed {
			continue
		}
		t[rt.Slug] = entry{id: rt.ID, state: rt.State, upstream: rt.Upstream}
	}
	byID := make(map[string]string, len(t))
	for _, e := range t {
		if e.state != lifecycle.Destroyed && e.upstream != "" {
			byID[e.id] = e.upstream
		}
	}
	r.mu.Lock()
	r.table, r.byID = t, byID
	for id, m := range r.moved {
		if byID[id] != m.base {
			delete(r.moved, id)
		}
	}
	for id := range r.asked {
		if _, ok := byID[id]; !ok {
			delete(r.asked, id)
		}
	}
	for id := range r.legacy {
		if _, ok := byID[id]; !ok {
			delete(r.legacy, id)
		}
	}
	r.mu.Unlock()
	return nil
}

// Run refreshes every interval until ctx ends: it picks up changes made by another
// control-plane process.
func (r *Router) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.transport.CloseIdleConnections()
			return
		case <-t.C:
			if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
				r.log.WarnContext(ctx, "edge refresh", "error", err.Error())
			}
		}
	}
}

// slug returns the instance label of host, or "" when host is not ours.
func (r *Router) slug(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	label, ok := strings.CutSuffix(host, "."+r.baseDomain)
	if !ok || label == "" || strings.Contains(label, ".") {
		return ""
	}
	return label
}

func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	slug := r.slug(req.Host)
	r.mu.RLock()
	e, ok := r.table[slug]
	r.mu.RUnlock()
	switch {
	case slug == "" || !ok:
		page(w, http.StatusNotFound, "No such instance", "There is no sproudchat instance at this address.")
	case e.state == lifecycle.Destroyed:
		page(w, http.StatusGone, "This instance was deleted", "The sproudchat instance at this address no longer exists.")
	case e.upstream == "" || e.state == lifecycle.Provisioning || e.state == lifecycle.Failed || e.state == lifecycle.Destroying:
		w.Header().Set("Retry-After", "5")
		page(w, http.StatusServiceUnavailable, "Almost there", "This sproudchat instance is being prepared. Please try again in a few seconds.")
	case e.state == lifecycle.Restoring:
		// The app is stopped while its data is replaced; a restore takes about as long
		// as a backup.
		w.Header().Set("Retry-After", "30")
		page(w, http.StatusServiceUnavailable, "Back in a moment", "This sproudchat instance is being restored from a backup. Please try again in a minute.")
	default:
		// Suspending, suspended and resuming instances stay reachable: read-only is
		// still readable.
		client, proto := r.trusted.client(req)
		ctx := context.WithValue(req.Context(), targetKey{}, target{id: e.id, client: client, proto: proto})
		r.proxy.ServeHTTP(w, req.WithContext(ctx))
	}
}

type targetKey struct{}

// target is what ServeHTTP decided for one request.
type target struct {
	id     string // the instance
	client string // the visitor's address
	proto  string // http or https, as the visitor reached us
}

func targetOf(ctx context.Context) target {
	t, _ := ctx.Value(targetKey{}).(target)
	return t
}

// rewrite addresses the request to the instance's id (the transport dials it) and
// replaces every forwarding header with what the edge established: the instance takes
// the one address in X-Forwarded-For as the visitor's (its IPExtractor trusts the edge,
// which reaches it over loopback or the instance's bridge network).
func (r *Router) rewrite(pr *httputil.ProxyRequest) {
	t := targetOf(pr.In.Context())
	pr.SetURL(&url.URL{Scheme: "http", Host: t.id})
	pr.Out.Host = pr.In.Host // the instance sees its public host (cookies, links)
	h := pr.Out.Header
	h.Set("X-Forwarded-For", t.client)
	h.Set("X-Forwarded-Host", pr.In.Host)
	h.Set("X-Forwarded-Proto", t.proto)
	h.Del("X-Real-Ip")
	h.Del("Forwarded")
}

func page(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>%s</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem;color:#1d2330}</style></head>
<body><h1>%s</h1><p>%s</p></body></html>`, html.EscapeString(title), html.EscapeString(title), html.EscapeString(text))
}
