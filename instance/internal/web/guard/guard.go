// Package guard enforces the route table: every route names the permission it needs,
// and Guard.Handler wraps its handler with who may call it, how large a body it takes,
// CSRF proof for cookie-authenticated changes, the allowed origins of the routes other
// websites call, and the read-only refusal. It is the only place these rules live, so
// a route cannot be added without them. The table itself is the web package's.
package guard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/ratelimit"
	"github.com/sproudstack/sproudchat/instance/internal/web/webform"
	"github.com/sproudstack/sproudchat/platform/httpbody"
	"github.com/sproudstack/sproudchat/platform/problem"
)

// Route is one entry of the route table. Every route names the permission it needs;
// the guard enforces it, the CSRF check and read-only mode, and the tests walk the
// table for every role and in read-only mode.
type Route struct {
	Method string
	Path   string
	Perm   accounts.Permission
	// ReadOnlyOK marks a mutating route that stays allowed in read-only mode (logging
	// in and out, and later exports): it changes no customer content.
	ReadOnlyOK bool
	// MaxBody overrides the default request body limit (uploads): Options.MaxBodyBytes,
	// or Options.PublicMaxBodyBytes for a public route.
	MaxBody int64
	// CrossOrigin routes serve the chat widget on the customer's own website: requests
	// from the origins an admin allowed pass, with CORS headers.
	CrossOrigin bool
	// WebSocket routes answer 426 to a plain request.
	WebSocket bool
	Handler   echo.HandlerFunc
}

// API tells whether the route is part of the JSON API (problem+json, Bearer tokens).
func (r Route) API() bool { return strings.HasPrefix(r.Path, "/api/") }

// Mutating tells whether the route changes state.
func (r Route) Mutating() bool { return Mutating(r.Method) }

// Check returns an error for a route without a permission or a handler.
func (r Route) Check() error {
	if r.Perm == "" {
		return fmt.Errorf("route %s %s declares no permission", r.Method, r.Path)
	}
	if r.Handler == nil {
		return fmt.Errorf("route %s %s has no handler", r.Method, r.Path)
	}
	return nil
}

// Mutating tells whether a request of method changes state.
func Mutating(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// The form field and header that carry the CSRF token.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

// BusyRetryAfter is the Retry-After of an answer refused because the instance is at a
// limit of work that is over in well under a second (password hashes, public bodies).
const BusyRetryAfter = time.Second

// The guard's refusals.
var (
	ErrReadOnly  = problem.New(http.StatusLocked, "read-only", "this instance is read-only: changes are not possible")
	ErrNoCSRF    = problem.New(http.StatusBadRequest, "csrf", "the CSRF token is missing: send it as X-CSRF-Token or the csrf_token form field")
	ErrBadCSRF   = problem.New(http.StatusForbidden, "csrf", "the CSRF token does not match this session")
	ErrForbidden = problem.New(http.StatusForbidden, "forbidden", "you do not have permission to do this")
	ErrCrossSite = problem.New(http.StatusForbidden, "cross-site", "cross-site requests are refused")
	ErrLoginNeed = problem.New(http.StatusUnauthorized, "unauthenticated", "log in or send an API token")
	// ErrBodiesBusy: as many public request bodies as the instance receives at once are
	// arriving.
	ErrBodiesBusy = problem.New(http.StatusServiceUnavailable, "busy", "too many requests are arriving at once; try again in a moment")
)

// Authenticator is what the guard needs of accounts.Service: who presents a token or a
// session cookie, and whether a CSRF token is theirs.
type Authenticator interface {
	AuthenticateToken(ctx context.Context, token string) (accounts.Principal, error)
	AuthenticateSession(ctx context.Context, token string) (accounts.Principal, error)
	CheckCSRF(p accounts.Principal, token string) bool
}

// Options configure the guard.
type Options struct {
	Auth Authenticator
	// SessionCookie names the session cookie; ClearSession removes a stale one.
	SessionCookie string
	ClearSession  func(c echo.Context)
	// Origins lists the other websites allowed to call the CrossOrigin routes.
	Origins func(ctx context.Context) []string
	// BaseURL is the instance's own address: requests from its host are same-origin.
	BaseURL  *url.URL
	ReadOnly bool
	// MaxBodyBytes and PublicMaxBodyBytes are the body limits of routes that set none,
	// for those who log in and for the public. Required.
	MaxBodyBytes, PublicMaxBodyBytes int64
	// PublicBodiesAtOnce bounds the public bodies being received at once. Required.
	PublicBodiesAtOnce int
}

// Guard enforces one route table.
type Guard struct {
	o Options
	// crossOrigin names the routes ("METHOD /path") open to allowed other websites.
	crossOrigin map[string]bool
	// publicBodies holds a token per body of a public route being received.
	publicBodies chan struct{}
}

// New returns the guard of routes. Returns an error for a route that fails Check.
func New(o Options, routes []Route) (*Guard, error) {
	g := &Guard{o: o, crossOrigin: map[string]bool{}, publicBodies: make(chan struct{}, o.PublicBodiesAtOnce)}
	for _, rt := range routes {
		if err := rt.Check(); err != nil {
			return nil, err
		}
		if rt.CrossOrigin {
			g.crossOrigin[rt.Method+" "+rt.Path] = true
		}
	}
	return g, nil
}

// SameOrigin refuses state-changing requests that a browser sent from another site.
// It protects the routes that have no session yet (login, setup) from cross-site
// posts; the CSRF token protects the rest.
func (g *Guard) SameOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if !Mutating(r.Method) || g.crossOrigin[r.Method+" "+c.Path()] {
			return next(c) // cross-origin routes check their allowed origins in Handler
		}
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			return ErrCrossSite
		}
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || (u.Host != r.Host && u.Host != g.o.BaseURL.Host) {
				return ErrCrossSite
			}
		}
		return next(c)
	}
}

// Handler wraps rt's handler with everything its table entry declares.
func (g *Guard) Handler(rt Route) echo.HandlerFunc {
	api := rt.API()
	limit := g.BodyLimit(rt)
	receive := rt.Perm == accounts.Public && rt.MaxBody == 0 && rt.Mutating()
	return func(c echo.Context) error {
		if err := httpbody.Limit(c.Response(), c.Request(), limit); err != nil {
			return err
		}
		if rt.CrossOrigin {
			if err := g.allowCrossOrigin(c); err != nil {
				return err
			}
		}
		p, ok, err := g.authenticate(c, api)
		if err != nil {
			return err
		}
		if ok {
			c.Set(ctxPrincipal, p)
		}
		write := Mutating(rt.Method)
		if rt.Perm != accounts.Public {
			if !ok {
				return ErrLoginNeed
			}
			if !p.Can(rt.Perm) {
				return ErrForbidden
			}
			if write && p.ViaSession() {
				token := c.Request().Header.Get(CSRFHeader)
				if token == "" && !api {
					if token, err = webform.Value(c, CSRFField); err != nil {
						return err
					}
				}
				if token == "" {
					return ErrNoCSRF
				}
				if !g.o.Auth.CheckCSRF(p, token) {
					return ErrBadCSRF
				}
			}
		}
		if write && g.o.ReadOnly && !rt.ReadOnlyOK {
			return ErrReadOnly
		}
		if ok || rt.Perm != accounts.Public {
			c.Response().Header().Set("Cache-Control", "no-store")
		}
		if receive { // last: a request refused anyway costs no token
			if err := g.receivePublicBody(c); err != nil {
				return err
			}
		}
		return rt.Handler(c)
	}
}

// authenticate finds who is calling: a Bearer token (API routes only) or the session
// cookie. A request that presents a bad credential is refused, not treated as anonymous.
func (g *Guard) authenticate(c echo.Context, api bool) (accounts.Principal, bool, error) {
	ctx := c.Request().Context()
	if auth := c.Request().Header.Get(echo.HeaderAuthorization); auth != "" && api {
		const prefix = "Bearer "
		if len(auth) <= len(prefix) || auth[:len(prefix)] != prefix {
			return accounts.Principal{}, false, ErrLoginNeed
		}
		p, err := g.o.Auth.AuthenticateToken(ctx, auth[len(prefix):])
		if errors.Is(err, instance.ErrUnauthorized) {
			return accounts.Principal{}, false, ErrLoginNeed
		}
		return p, err == nil, err
	}
	cookie, err := c.Cookie(g.o.SessionCookie)
	if err != nil || cookie.Value == "" {
		return accounts.Principal{}, false, nil
	}
	p, err := g.o.Auth.AuthenticateSession(ctx, cookie.Value)
	if errors.Is(err, instance.ErrUnauthorized) {
		g.o.ClearSession(c)
		return accounts.Principal{}, false, nil
	}
	return p, err == nil, err
}

// BodyLimit is the most a request to rt may send: its own limit (uploads), else the
// small one for routes anyone may call, else the default.
func (g *Guard) BodyLimit(rt Route) int64 {
	switch {
	case rt.MaxBody != 0:
		return rt.MaxBody
	case rt.Perm == accounts.Public:
		return g.o.PublicMaxBodyBytes
	}
	return g.o.MaxBodyBytes
}

// receivePublicBody reads the whole body of a change anyone may send before its handler
// runs, holding one of PublicBodiesAtOnce tokens while the body arrives. A client that
// sends slowly (or never finishes) then holds a token and at most the route's limit,
// and all of them together hold a bounded amount; with every token taken the answer is
// 503 with Retry-After. Handlers read the buffered copy.
func (g *Guard) receivePublicBody(c echo.Context) error {
	r := c.Request()
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	select {
	case g.publicBodies <- struct{}{}:
	default:
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(BusyRetryAfter/time.Second)))
		return ErrBodiesBusy
	}
	defer func() { <-g.publicBodies }()
	var buf bytes.Buffer
	if r.ContentLength > 0 { // the limit has refused one over it
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(r.Body); err != nil {
		if err, ok := webform.TooLarge(err); ok {
			return err
		}
		return problem.BadRequest("the body could not be read")
	}
	r.Body = io.NopCloser(&buf)
	return nil
}

// allowCrossOrigin lets a request from another site through when its origin is
// allowed, and says so in the CORS headers. Same-origin requests need no permission.
func (g *Guard) allowCrossOrigin(c echo.Context) error {
	origin := c.Request().Header.Get("Origin")
	if origin == "" {
		return nil
	}
	if u, err := url.Parse(origin); err == nil && (u.Host == c.Request().Host || u.Host == g.o.BaseURL.Host) {
		return nil
	}
	if g.o.Origins == nil || !slices.Contains(g.o.Origins(c.Request().Context()), strings.ToLower(origin)) {
		return ErrCrossSite
	}
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	return nil
}

const ctxPrincipal = "principal"

// PrincipalOf returns who is calling, if the guard found out.
func PrincipalOf(c echo.Context) (accounts.Principal, bool) {
	p, ok := c.Get(ctxPrincipal).(accounts.Principal)
	return p, ok
}

// MustPrincipal is for handlers of non-public routes, where the guard has set it.
func MustPrincipal(c echo.Context) accounts.Principal {
	p, _ := PrincipalOf(c)
	return p
}

// Meta is where the request came from, in full: the accounts service records it and
// counts failed logins under its ratelimit.AddressKey.
func Meta(c echo.Context) accounts.Meta {
	return accounts.Meta{IP: c.RealIP(), UserAgent: c.Request().UserAgent()}
}

// AddressKey is the key of the client's address for every per-address limit (an IPv6
// address counts as its /64); logs keep c.RealIP().
func AddressKey(c echo.Context) string { return ratelimit.AddressKey(c.RealIP()) }
