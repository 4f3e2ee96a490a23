// Package api is the provisioning API v1, the contract with the billing system: Bearer
// tokens with scopes, problem+json errors, idempotent creation, 202 and asynchronous
// state. Every route is declared once in the table below, with the scope it needs, and
// the OpenAPI document is made from the same table.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/provisioning/template"
)

// Scope is what a token may do.
type Scope = lifecycle.Scope

// The scopes; admin includes the other two. Public routes need no token.
const (
	Public Scope = ""
	Read         = lifecycle.ScopeRead
	Write        = lifecycle.ScopeWrite
	Admin        = lifecycle.ScopeAdmin
)

// Instances is the instance use cases (control.Service).
type Instances interface {
	// NewInstance returns a *lifecycle.ValidationError.
	NewInstance(req lifecycle.CreateRequest) (lifecycle.NewInstance, error)
	// Create returns lifecycle.ErrKeyUsed or lifecycle.ErrConflict.
	Create(ctx context.Context, n lifecycle.NewInstance, actor string, idem *lifecycle.Idempotent) error
	// Replay returns lifecycle.ErrNotFound.
	Replay(ctx context.Context, tokenID int64, key string) (lifecycle.Idempotent, error)
	Get(ctx context.Context, id string) (lifecycle.Instance, error)
	List(ctx context.Context, f lifecycle.InstanceFilter) ([]lifecycle.Instance, string, error)
	Events(ctx context.Context, id string) ([]lifecycle.Event, error)
	Suspend(ctx context.Context, id, reason, actor string) (lifecycle.Instance, error)
	Resume(ctx context.Context, id, reason, actor string) (lifecycle.Instance, error)
	Destroy(ctx context.Context, id, reason, actor string) (lifecycle.Instance, error)
	Retry(ctx context.Context, id, actor string) (lifecycle.Instance, error)
	Plans() []template.Plan
	URL(slug string) string
}

// Tokens is the API token use cases (control.Tokens).
type Tokens interface {
	// Authenticate returns lifecycle.ErrNotFound for an unknown or revoked token.
	Authenticate(ctx context.Context, raw string) (lifecycle.Token, error)
	// Create returns the token and its secret, shown once.
	Create(ctx context.Context, req lifecycle.TokenRequest) (lifecycle.Token, string, error)
	List(ctx context.Context) ([]lifecycle.Token, error)
	Revoke(ctx context.Context, id int64) error
}

// Webhooks is the webhook use cases (control.Webhooks).
type Webhooks interface {
	Create(ctx context.Context, req lifecycle.WebhookRequest) (lifecycle.Subscription, error)
	List(ctx context.Context) ([]lifecycle.Subscription, error)
	Delete(ctx context.Context, id int64) error
	Deliveries(ctx context.Context, webhookID int64, limit int) ([]lifecycle.Delivery, error)
}

// GC is garbage collection of runtime objects without a live instance (control.GC).
type GC interface {
	Orphans(ctx context.Context) ([]lifecycle.Orphan, error)
	Collect(ctx context.Context, volumes bool) ([]lifecycle.Orphan, error)
}

// Logs reads the tail of an instance's app log (the runtime).
type Logs interface {
	// Logs returns an error wrapping provisioning.ErrNotFound when the runtime has
	// nothing of the instance.
	Logs(ctx context.Context, id string, lines int) (string, error)
}

// Pinger tells whether the database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options configure the server.
type Options struct {
	Instances Instances
	Tokens    Tokens
	Webhooks  Webhooks
	GC        GC
	Backups   Backups // nil: this control plane keeps no backups (503)
	Database  Pinger
	Runtime   Logs
	Logger    *slog.Logger
	Metrics   http.Handler
	Version   string
}

// Server is the API.
type Server struct {
	opts   Options
	log    *slog.Logger
	echo   *echo.Echo
	routes []Route
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
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Backups == nil {
		o.Backups = noBackups{}
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
		info, err := s.opts.Tokens.Authenticate(c.Request().Context(), raw)
		if errors.Is(err, lifecycle.ErrNotFound) {
			return errNoToken
		} else if err != nil {
			return err
		}
		if !info.Has(rt.Scope) {
			return errScope
		}
		c.Set(ctxToken, info)
		return rt.Handler(c)
	}
}

func token(c echo.Context) lifecycle.Token { t, _ := c.Get(ctxToken).(lifecycle.Token); return t }

func actor(c echo.Context) string { return "token:" + token(c).Name }

func (s *Server) healthz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.opts.Database.Ping(ctx); err != nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "version": s.opts.Version})
}

func (s *Server) metrics(c echo.Context) error {
	s.opts.Metrics.ServeHTTP(c.Response(), c.Request())
	return nil
}
