// Package web is the instance's HTTP layer: the route table with a permission per
// route, the JSON API under /api/v1, server-rendered pages in German and English, and
// the embedded static assets.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/booking"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/kb"
	"github.com/sproudstack/sproudchat/instance/internal/notify"
	"github.com/sproudstack/sproudchat/instance/internal/ratelimit"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
	"github.com/sproudstack/sproudchat/instance/internal/web/guard"
	"github.com/sproudstack/sproudchat/instance/internal/web/livechat"
	"github.com/sproudstack/sproudchat/instance/internal/web/page"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// Health is what /readyz asks.
type Health interface {
	// Ready returns nil when the database answers and its schema is current.
	Ready(ctx context.Context) error
}

// OutboxReader lists outgoing e-mail with its state.
type OutboxReader interface {
	Outbox(ctx context.Context, limit int) ([]notify.Mail, error)
}

// BlobOpener opens stored attachment bodies.
type BlobOpener interface {
	Open(sum string) (*os.File, error)
}

// Options configure the server.
type Options struct {
	Accounts      *accounts.Service
	Tickets       *tickets.Service
	Attachments   *tickets.Attachments
	Blobs         BlobOpener
	Confirm       Confirmer    // mails the contact form's confirmation; nil sends none
	Transcripts   Transcripter // mails chat transcripts to visitors; nil offers none
	KB            *kb.Service
	Outbox        OutboxReader
	Chat          *chat.Service
	Hooks         *notify.Hooks // notification targets
	Booking       *booking.Service
	Settings      chat.SettingsStore
	Health        Health
	Logger        *slog.Logger
	Clock         clock.Clock
	BaseURL       *url.URL
	ReadOnly      bool
	ReadOnlyUntil time.Time
	MaxBodyBytes  int64 // default 1 MiB
	// PublicMaxBodyBytes is the body limit of the routes anyone may call (login, setup,
	// the widget's API, public forms) unless the route sets its own (uploads); default
	// 64 KiB: nothing a visitor sends needs more, and every byte is buffered.
	PublicMaxBodyBytes int64
	// PublicBodiesAtOnce bounds the bodies of those routes being received at once;
	// default 128. A client that sends slowly holds one for as long as it takes.
	PublicBodiesAtOnce int
	// MaxVisitorSockets bounds the visitors' live chat connections of the instance;
	// default livechat.VisitorSockets of the Go runtime's memory limit.
	MaxVisitorSockets int
	Version           string
	InstanceID        string // answered by /healthz (InstanceHeader); "" for a lone instance
}

// Server serves one instance: the route table, the guard that enforces it, and the
// areas whose handlers the table names. Each area holds only the services it calls.
type Server struct {
	opts   Options
	log    *slog.Logger
	echo   *echo.Echo
	routes []Route
	pages  *page.Renderer

	health   *healthArea
	audit    *auditArea
	accounts *accountsArea
	tickets  *ticketsArea
	kb       *kbArea   // nil without Options.KB
	chat     *chatArea // nil without Options.Chat
	booking  *bookingArea
	notify   *notifyArea

	guard   *guard.Guard
	cookies cookies
}

// New builds the server and its route table.
func New(o Options) (*Server, error) {
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.PublicMaxBodyBytes == 0 {
		o.PublicMaxBodyBytes = 64 << 10
	}
	if o.PublicBodiesAtOnce == 0 {
		o.PublicBodiesAtOnce = 128
	}
	if o.MaxVisitorSockets == 0 {
		o.MaxVisitorSockets = livechat.VisitorSockets(debug.SetMemoryLimit(-1))
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: o, log: o.Logger, echo: echo.New(),
		cookies: cookies{secure: o.BaseURL != nil && o.BaseURL.Scheme == "https", clock: o.Clock}}
	pg, err := loadPages(page.Options{ReadOnly: o.ReadOnly, ReadOnlyUntil: o.ReadOnlyUntil, Log: o.Logger,
		Lang: lang, Translator: s.translator, ErrorText: errorText})
	if err != nil {
		return nil, err
	}
	s.pages = pg
	// The contact form and the chat's offline form and transcripts share one limit: each
	// address may send 5 an hour.
	contactLimit := ratelimit.New(o.Clock, time.Hour, 5)
	s.health = &healthArea{ready: o.Health, instanceID: o.InstanceID, version: o.Version, readOnly: o.ReadOnly, log: o.Logger}
	s.audit = &auditArea{log: o.Accounts, outbox: o.Outbox, pages: pg, clock: o.Clock}
	s.accounts = &accountsArea{accounts: o.Accounts, pages: pg, cookies: s.cookies, clock: o.Clock}
	s.tickets = &ticketsArea{tickets: o.Tickets, blobs: o.Blobs, users: o.Accounts, confirm: o.Confirm,
		pages: pg, baseURL: o.BaseURL, log: o.Logger, contactLimit: contactLimit}
	if o.Attachments != nil {
		s.tickets.attachments = o.Attachments
	}
	if o.KB != nil {
		s.tickets.kb = o.KB
		s.kb = &kbArea{kb: o.KB, pages: pg, baseURL: o.BaseURL, voteLimit: ratelimit.New(o.Clock, time.Hour, 30)}
	}
	if o.Chat != nil {
		s.chat = &chatArea{chat: o.Chat, settings: o.Settings, users: o.Accounts, blobs: o.Blobs, tickets: o.Tickets,
			confirm: o.Confirm, transcripts: o.Transcripts, pages: pg, baseURL: o.BaseURL, readOnly: o.ReadOnly, log: o.Logger,
			chatStartLimit:     ratelimit.New(o.Clock, chatStartWindow, chatStartsPerWindow),
			visitorUploadLimit: ratelimit.New(o.Clock, time.Hour, 30),
			contactLimit:       contactLimit,
			visitorSockets:     livechat.NewCounter(livechat.VisitorsPerChat, livechat.VisitorsPerAddress, o.MaxVisitorSockets),
			agentSockets:       livechat.NewCounter(livechat.AgentTabs, 0, 0),
			sessions: livechat.New(livechat.Options{Chat: o.Chat, Typing: o.Chat.Hub(), Clock: o.Clock, Logger: o.Logger, ReadOnly: o.ReadOnly,
				Text:      func(ctx context.Context, key string) string { return translate(ctxLang(ctx), key) },
				FieldText: func(ctx context.Context, msg string) string { return fieldText(ctxLang(ctx), msg) }})}
		if o.Attachments != nil {
			s.chat.files = o.Attachments
		}
	}
	s.booking = &bookingArea{booking: o.Booking, users: o.Accounts, pages: pg, clock: o.Clock, bookLimit: ratelimit.New(o.Clock, time.Hour, 10)}
	s.notify = &notifyArea{hooks: o.Hooks, settings: o.Settings, users: o.Accounts, pages: pg, clock: o.Clock}
	s.routes = s.routeTable()
	gopts := guard.Options{Auth: o.Accounts, SessionCookie: s.cookies.name(), ClearSession: s.cookies.clear, BaseURL: o.BaseURL,
		ReadOnly: o.ReadOnly, MaxBodyBytes: o.MaxBodyBytes, PublicMaxBodyBytes: o.PublicMaxBodyBytes, PublicBodiesAtOnce: o.PublicBodiesAtOnce}
	if s.chat != nil {
		gopts.Origins = s.chat.chatOrigins
	}
	if s.guard, err = guard.New(gopts, s.routes); err != nil {
		return nil, err
	}
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	// The edge router in front sets X-Forwarded-For; trust it only from loopback and
	// private networks, where the router lives.
	e.IPExtractor = echo.ExtractIPFromXFFHeader(echo.TrustLoopback(true), echo.TrustPrivateNet(true), echo.TrustLinkLocal(false))
	e.Use(withRequestID, s.accessLog, securityHeaders, s.guard.SameOrigin, withLanguage)
	for _, rt := range s.routes {
		e.Add(rt.Method, rt.Path, s.guard.Handler(rt))
	}
	e.RouteNotFound("/*", func(c echo.Context) error { return echo.ErrNotFound })
	return s, nil
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// MaxVisitorSockets is how many visitor chat connections the server holds at once.
func (s *Server) MaxVisitorSockets() int { return s.opts.MaxVisitorSockets }

// Routes returns the route table, for tests that walk it.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// cookies sets and clears the session cookie.
type cookies struct {
	secure bool // the instance is served over https
	clock  clock.Clock
}

// name uses the __Host- prefix over https, which makes browsers refuse the cookie
// unless it is Secure, host-only and for the whole path.
func (k cookies) name() string {
	if k.secure {
		return "__Host-sproudchat_session"
	}
	return "sproudchat_session"
}

// set sets a relative Max-Age rather than an absolute Expires, so a browser whose
// clock is off does not drop or keep the session wrongly.
func (k cookies) set(c echo.Context, token string, expires time.Time) {
	c.SetCookie(&http.Cookie{Name: k.name(), Value: token, Path: "/", MaxAge: int(expires.Sub(k.clock.Now()).Seconds()),
		HttpOnly: true, Secure: k.secure, SameSite: http.SameSiteLaxMode})
}

func (k cookies) clear(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: k.name(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: k.secure, SameSite: http.SameSiteLaxMode})
}

func itoa(n int) string { return strconv.Itoa(n) }

func isConflict(err error) bool { return errors.Is(err, instance.ErrConflict) }
