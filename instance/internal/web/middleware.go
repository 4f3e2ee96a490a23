package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/ratelimit"
	"github.com/sproudstack/sproudchat/platform/httpbody"
	"github.com/sproudstack/sproudchat/platform/problem"
	"github.com/sproudstack/sproudchat/platform/requestid"
)

// authenticator is what guard needs of accounts.Service: who presents a token or a
// session cookie, and whether a CSRF token is theirs.
type authenticator interface {
	AuthenticateToken(ctx context.Context, token string) (accounts.Principal, error)
	AuthenticateSession(ctx context.Context, token string) (accounts.Principal, error)
	CheckCSRF(p accounts.Principal, token string) bool
}

const (
	ctxPrincipal = "principal"
	csrfHeader   = "X-CSRF-Token"
	csrfField    = "csrf_token"
)

// withRequestID takes a sane X-Request-ID from the client (the edge router sets one) or
// makes one, puts it in the request's context and echoes it in the response.
func withRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := requestid.Sanitize(c.Request().Header.Get(requestid.Header))
		c.SetRequest(c.Request().WithContext(requestid.NewContext(c.Request().Context(), id)))
		c.Response().Header().Set(requestid.Header, id)
		return next(c)
	}
}

func requestID(c echo.Context) string { return requestid.FromContext(c.Request().Context()) }

// accessLog writes one line per request. It logs the path without the query string
// (the setup link carries its token there), a route's pattern instead of a path that
// carries a token (a booking's link), and never headers or bodies.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		path := c.Request().URL.Path
		if strings.Contains(c.Path(), ":token") {
			path = c.Path()
		}
		attrs := []any{"request_id", requestID(c), "method", c.Request().Method, "path", path,
			"status", c.Response().Status, "duration_ms", float64(time.Since(start).Microseconds()) / 1000, "ip", c.RealIP()}
		if p, ok := principalOf(c); ok {
			attrs = append(attrs, "user_id", p.User.ID)
		}
		s.log.InfoContext(c.Request().Context(), "request", attrs...)
		return nil
	}
}

// limitBody caps a request body at limit; reading past it fails with 413.
func limitBody(c echo.Context, limit int64) error {
	return httpbody.Limit(c.Response(), c.Request(), limit)
}

// securityHeaders keep pages from being framed, sniffed or leaking referrers, and allow
// nothing to load from a third-party host: the privacy promise, enforced by the browser.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		return next(c)
	}
}

// sameOrigin refuses state-changing requests that a browser sent from another site.
// It protects the routes that have no session yet (login, setup) from cross-site
// posts; the CSRF token protects the rest.
func (s *Server) sameOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if !mutating(r.Method) || s.crossOrigin[r.Method+" "+c.Path()] {
			return next(c) // cross-origin routes check their allowed origins in guard
		}
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			return errCrossSite
		}
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || (u.Host != r.Host && u.Host != s.opts.BaseURL.Host) {
				return errCrossSite
			}
		}
		return next(c)
	}
}

func mutating(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// authenticate finds who is calling: a Bearer token (API routes only) or the session
// cookie. A request that presents a bad credential is refused, not treated as anonymous.
func (s *Server) authenticate(c echo.Context, api bool) (accounts.Principal, bool, error) {
	ctx := c.Request().Context()
	if auth := c.Request().Header.Get(echo.HeaderAuthorization); auth != "" && api {
		const prefix = "Bearer "
		if len(auth) <= len(prefix) || auth[:len(prefix)] != prefix {
			return accounts.Principal{}, false, errLoginNeed
		}
		p, err := s.auth.AuthenticateToken(ctx, auth[len(prefix):])
		if errors.Is(err, instance.ErrUnauthorized) {
			return accounts.Principal{}, false, errLoginNeed
		}
		return p, err == nil, err
	}
	cookie, err := c.Cookie(s.cookies.name())
	if err != nil || cookie.Value == "" {
		return accounts.Principal{}, false, nil
	}
	p, err := s.auth.AuthenticateSession(ctx, cookie.Value)
	if errors.Is(err, instance.ErrUnauthorized) {
		s.cookies.clear(c)
		return accounts.Principal{}, false, nil
	}
	return p, err == nil, err
}

func principalOf(c echo.Context) (accounts.Principal, bool) {
	p, ok := c.Get(ctxPrincipal).(accounts.Principal)
	return p, ok
}

// mustPrincipal is for handlers of non-public routes, where guard has set it.
func mustPrincipal(c echo.Context) accounts.Principal {
	p, _ := principalOf(c)
	return p
}

// meta is where the request came from, in full: the accounts service records it and
// counts failed logins under its ratelimit.AddressKey.
func meta(c echo.Context) accounts.Meta {
	return accounts.Meta{IP: c.RealIP(), UserAgent: c.Request().UserAgent()}
}

// addressKey is the key of the client's address for every per-address limit (an IPv6
// address counts as its /64); logs keep c.RealIP().
func addressKey(c echo.Context) string { return ratelimit.AddressKey(c.RealIP()) }

// bodyLimit is the most a request to rt may send: its own limit (uploads), else the
// small one for routes anyone may call, else the default.
func (s *Server) bodyLimit(rt Route) int64 {
	switch {
	case rt.MaxBody != 0:
		return rt.MaxBody
	case rt.Perm == accounts.Public:
		return s.opts.PublicMaxBodyBytes
	}
	return s.opts.MaxBodyBytes
}

// receivePublicBody reads the whole body of a change anyone may send before its handler
// runs, holding one of PublicBodiesAtOnce tokens while the body arrives. A client that
// sends slowly (or never finishes) then holds a token and at most the route's limit,
// and all of them together hold a bounded amount; with every token taken the answer is
// 503 with Retry-After. Handlers read the buffered copy.
func (s *Server) receivePublicBody(c echo.Context) error {
	r := c.Request()
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	select {
	case s.publicBodies <- struct{}{}:
	default:
		c.Response().Header().Set("Retry-After", itoa(int(busyRetryAfter/time.Second)))
		return errBodiesBusy
	}
	defer func() { <-s.publicBodies }()
	var buf bytes.Buffer
	if r.ContentLength > 0 { // limitBody has refused one over the limit
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(r.Body); err != nil {
		if err, ok := tooLarge(err); ok {
			return err
		}
		return problem.BadRequest("the body could not be read")
	}
	r.Body = io.NopCloser(&buf)
	return nil
}

// guard wraps a route's handler with everything its table entry declares: who may call
// it, how large a body it takes, CSRF proof for cookie-authenticated changes, and the
// read-only refusal. It is the only place these rules live, so a route cannot be added
// without them.
func (s *Server) guard(rt Route) echo.HandlerFunc {
	api := rt.API()
	limit := s.bodyLimit(rt)
	receive := rt.Perm == accounts.Public && rt.MaxBody == 0 && rt.Mutating()
	return func(c echo.Context) error {
		if err := limitBody(c, limit); err != nil {
			return err
		}
		if rt.CrossOrigin {
			if err := s.allowCrossOrigin(c); err != nil {
				return err
			}
		}
		p, ok, err := s.authenticate(c, api)
		if err != nil {
			return err
		}
		if ok {
			c.Set(ctxPrincipal, p)
		}
		write := mutating(rt.Method)
		if rt.Perm != accounts.Public {
			if !ok {
				return errLoginNeed
			}
			if !p.Can(rt.Perm) {
				return errForbidden
			}
			if write && p.ViaSession() {
				token := c.Request().Header.Get(csrfHeader)
				if token == "" && !api {
					if token, err = formValue(c, csrfField); err != nil {
						return err
					}
				}
				if token == "" {
					return errNoCSRF
				}
				if !s.auth.CheckCSRF(p, token) {
					return errBadCSRF
				}
			}
		}
		if write && s.opts.ReadOnly && !rt.ReadOnlyOK {
			return errReadOnly
		}
		if ok || rt.Perm != accounts.Public {
			c.Response().Header().Set("Cache-Control", "no-store")
		}
		if receive { // last: a request refused anyway costs no token
			if err := s.receivePublicBody(c); err != nil {
				return err
			}
		}
		return rt.Handler(c)
	}
}

// allowCrossOrigin lets a request from another site through when its origin is
// allowed, and says so in the CORS headers. Same-origin requests need no permission.
func (s *Server) allowCrossOrigin(c echo.Context) error {
	origin := c.Request().Header.Get("Origin")
	if origin == "" {
		return nil
	}
	if u, err := url.Parse(origin); err == nil && (u.Host == c.Request().Host || u.Host == s.opts.BaseURL.Host) {
		return nil
	}
	if s.chat == nil || !contains(s.chat.chatOrigins(c.Request().Context()), strings.ToLower(origin)) {
		return errCrossSite
	}
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	return nil
}
