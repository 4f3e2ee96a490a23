// Package api is the provisioning API v1, the contract with the billing system: Bearer
// tokens with scopes, problem+json errors, idempotent creation, 202 and asynchronous
// state. Every route is declared once in the table below, with the scope it needs, and
// the OpenAPI document is made from the same table.
package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/controlplane/internal/control"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/provisioning"
)

// Scope is what a token may do.
type Scope string

// The scopes; admin includes the other two. Public routes need no token.
const (
	Public Scope = ""
	Read   Scope = "instances:read"
	Write  Scope = "instances:write"
	Admin  Scope = "admin"
)

// Scopes lists the scopes a token may carry.
var Scopes = []Scope{Read, Write, Admin}

// Options configure the server.
type Options struct {
	Service *control.Service
	Store   *store.Store
	Runtime provisioning.Runtime
	Box     *secret.Box
	Clock   clock.Clock
	Logger  *slog.Logger
	Metrics http.Handler
	Version string
	// OrphanDataGrace is how long after the first gc that found an orphan its data (its
	// volumes) may be removed, and then only when asked (default DefaultOrphanDataGrace).
	OrphanDataGrace time.Duration
}

// DefaultOrphanDataGrace: a week for someone to miss an instance orphaned by mistake.
const DefaultOrphanDataGrace = 7 * 24 * time.Hour

// Server is the API.
type Server struct {
	opts   Options
	log    *slog.Logger
	echo   *echo.Echo
	routes []Route
	tokens tokenCache
}

// tokenCache keeps resolved tokens for a few seconds: each request would otherwise
// read the token table before its own query. A revocation through this process drops
// the entry at once; one through another process takes effect within tokenTTL.
type tokenCache struct {
	mu      sync.Mutex
	entries map[string]cachedToken
}

type cachedToken struct {
	info     tokenInfo
	lastUsed *time.Time
	expires  time.Time
}

const (
	tokenTTL       = 5 * time.Second
	tokenCacheSize = 1024
)

func (tc *tokenCache) get(hash string, now time.Time) (cachedToken, bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	e, ok := tc.entries[hash]
	if !ok || now.After(e.expires) {
		return cachedToken{}, false
	}
	return e, true
}

func (tc *tokenCache) put(hash string, e cachedToken) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.entries == nil || len(tc.entries) >= tokenCacheSize {
		tc.entries = map[string]cachedToken{}
	}
	tc.entries[hash] = e
}

// forget drops every cached token: called when one is revoked.
func (tc *tokenCache) forget() {
	tc.mu.Lock()
	tc.entries = nil
	tc.mu.Unlock()
}

// Route is one entry of the route table.
type Route struct {
	Method  string
	Path    string // echo syntax (:id)
	Scope   Scope
	Summary string
	Request any // body type, for the OpenAPI document
	Status  int // success status
	Reply   any // response type
	Handler echo.HandlerFunc
}

// New builds the API.
func New(o Options) *Server {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OrphanDataGrace == 0 {
		o.OrphanDataGrace = DefaultOrphanDataGrace
	}
	s := &Server{opts: o, log: o.Logger, echo: echo.New()}
	s.echo.HideBanner, s.echo.HidePort = true, true
	s.echo.HTTPErrorHandler = s.handleError
	s.echo.Use(logRequests(o.Logger), limitBody)
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.echo.Add(rt.Method, rt.Path, s.guard(rt))
	}
	s.echo.RouteNotFound("/*", func(c echo.Context) error { return echo.ErrNotFound })
	return s
}

// Handler is the API's http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Routes returns the route table.
func (s *Server) Routes() []Route { return slices.Clone(s.routes) }

const ctxToken = "token"

type tokenInfo struct {
	id     int64
	name   string
	scopes []string
}

// HashToken is how API tokens are stored: SHA-256 of the secret, which is 256 random bits.
func HashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// TokenPrefix marks control-plane tokens for secret scanners.
const TokenPrefix = "spt_"

// NewToken makes a token secret.
func NewToken() string { return TokenPrefix + secret.Random(32) }

func (t tokenInfo) has(s Scope) bool {
	return slices.Contains(t.scopes, string(s)) || slices.Contains(t.scopes, string(Admin))
}

// guard enforces a route's scope: the only place it is checked.
func (s *Server) guard(rt Route) echo.HandlerFunc {
	return func(c echo.Context) error {
		if rt.Scope == Public {
			return rt.Handler(c)
		}
		auth := c.Request().Header.Get(echo.HeaderAuthorization)
		raw, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || raw == "" {
			return errNoToken
		}
		info, err := s.resolve(c.Request().Context(), raw)
		if err != nil {
			return err
		}
		if !info.has(rt.Scope) {
			return errScope
		}
		c.Set(ctxToken, info)
		return rt.Handler(c)
	}
}

// resolve finds a live token by its secret, through the cache, and records its use at
// most hourly.
func (s *Server) resolve(ctx context.Context, raw string) (tokenInfo, error) {
	hash, now := HashToken(raw), s.opts.Clock.Now()
	e, ok := s.tokens.get(hash, now)
	if !ok {
		t, err := s.opts.Store.FindTokenByHash(ctx, hash)
		if errors.Is(err, lifecycle.ErrNotFound) {
			return tokenInfo{}, errNoToken
		} else if err != nil {
			return tokenInfo{}, err
		}
		e = cachedToken{info: tokenInfo{id: t.ID, name: t.Name, scopes: t.Scopes}, lastUsed: t.LastUsedAt, expires: now.Add(tokenTTL)}
	}
	if e.lastUsed == nil || now.Sub(*e.lastUsed) > time.Hour {
		if err := s.opts.Store.TouchToken(ctx, e.info.id, now); err != nil {
			return tokenInfo{}, err
		}
		e.lastUsed = &now
		ok = false
	}
	if !ok {
		s.tokens.put(hash, e)
	}
	return e.info, nil
}

func token(c echo.Context) tokenInfo { t, _ := c.Get(ctxToken).(tokenInfo); return t }

func actor(c echo.Context) string { return "token:" + token(c).name }

func (s *Server) healthz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.opts.Store.DB().Ping(ctx); err != nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "version": s.opts.Version})
}

func (s *Server) metrics(c echo.Context) error {
	s.opts.Metrics.ServeHTTP(c.Response(), c.Request())
	return nil
}
