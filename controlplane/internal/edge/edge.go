// Package edge routes each customer's traffic to their instance: Host <slug>.<base
// domain> → the upstream the runtime reported, WebSockets and streaming included. The
// table is rebuilt from the store on every state change (and every few seconds, for
// changes made by another control-plane process), never by asking the runtime per
// request.
package edge

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
)

// Routes is where the table comes from.
type Routes interface {
	Routes(ctx context.Context) ([]store.Route, error)
}

// Router is the edge's http.Handler.
type Router struct {
	src        Routes
	baseDomain string
	log        *slog.Logger
	mu         sync.RWMutex
	table      map[string]entry
	proxies    sync.Map // upstream → *httputil.ReverseProxy
}

type entry struct {
	id       string
	state    lifecycle.State
	upstream string
}

// New returns a router for hosts under baseDomain.
func New(src Routes, baseDomain string, log *slog.Logger) *Router {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Router{src: src, baseDomain: strings.ToLower(baseDomain), log: log, table: map[string]entry{}}
}

// Refresh rebuilds the table from the store. A live instance wins its slug over the
// tombstones of earlier ones.
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
	r.mu.Lock()
	r.table = t
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
	default:
		// Suspending, suspended and resuming instances stay reachable: read-only is
		// still readable.
		r.proxy(e.upstream).ServeHTTP(w, req)
	}
}

// proxy returns the reverse proxy for an upstream, made once.
func (r *Router) proxy(upstream string) *httputil.ReverseProxy {
	if p, ok := r.proxies.Load(upstream); ok {
		return p.(*httputil.ReverseProxy)
	}
	target := &url.URL{Scheme: "http", Host: upstream}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the instance sees its public host (cookies, links)
			pr.SetXForwarded()       // X-Forwarded-For, -Host, -Proto
		},
		FlushInterval: -1, // stream as it comes (server-sent events, long polls)
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			r.log.WarnContext(req.Context(), "edge upstream failed", "upstream", upstream, "error", err.Error())
			w.Header().Set("Retry-After", "5")
			page(w, http.StatusBadGateway, "Instance not answering", "This sproudchat instance does not answer right now. Please try again shortly.")
		},
	}
	actual, _ := r.proxies.LoadOrStore(upstream, p)
	return actual.(*httputil.ReverseProxy)
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
