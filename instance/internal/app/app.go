// Package app wires the instance together: configuration, database, domain services
// and the web server. The binary and the end-to-end tests both start it through Run.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/booking"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/config"
	"github.com/sproudstack/sproudchat/instance/internal/kb"
	"github.com/sproudstack/sproudchat/instance/internal/notify"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
	"github.com/sproudstack/sproudchat/instance/internal/web"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// Version is set at build time (-ldflags -X).
var Version = "dev"

// Options are what a caller may inject; zero values take the real thing.
type Options struct {
	Clock clock.Clock
	// Out receives the lines meant for a person: where the app listens and, while no
	// admin exists, the setup link.
	Out io.Writer
	// LogOut receives the structured JSON log.
	LogOut io.Writer
	// Listener, when set, is used instead of listening on the configured address.
	Listener net.Listener
	// Hash overrides the password hashing cost (tests only).
	Hash accounts.HashParams
	// DrainTimeout bounds how long Run waits, once stopped, for the requests and chat
	// connections in progress (default DefaultDrainTimeout).
	DrainTimeout time.Duration
	// WorkerGrace bounds how long a background worker may still take, once stopped, to
	// finish the item it is on (default DefaultWorkerGrace).
	WorkerGrace time.Duration
}

// The defaults of Options: together well inside the 10 s a runtime waits after SIGTERM
// before it kills the process.
const (
	DefaultDrainTimeout = 5 * time.Second
	DefaultWorkerGrace  = 3 * time.Second
)

// App is one running instance.
type App struct {
	cfg        config.Config
	opts       Options
	log        *slog.Logger
	db         *store.DB
	accounts   *accounts.Service
	web        *web.Server
	mailer     *notify.Mailer
	ticketMail *notify.TicketMail
	hooks      *notify.Hooks
	booking    *booking.Service
	chat       *chat.Service
	setupURL   string
	closeDB    sync.Once
}

// New opens (creating) the data dir and database, migrates it and builds the services.
func New(ctx context.Context, cfg config.Config, o Options) (*App, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.LogOut == nil {
		o.LogOut = io.Discard
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.WorkerGrace <= 0 {
		o.WorkerGrace = DefaultWorkerGrace
	}
	a := &App{cfg: cfg, opts: o, log: slog.New(slog.NewJSONHandler(o.LogOut, nil))}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.db = db
	if applied, err := db.MigrateWith(ctx, cfg.SecretKey); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	} else if len(applied) > 0 {
		a.log.InfoContext(ctx, "database migrated", "versions", applied, "dialect", string(db.Dialect()))
	}
	if err := a.build(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

func openDB(ctx context.Context, cfg config.Config) (*store.DB, error) {
	if !cfg.UsesPostgres() {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		// Create the file private before SQLite does: its journal files inherit the mode.
		f, err := os.OpenFile(cfg.SQLitePath(), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create database file: %w", err)
		}
		f.Close()
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.SQLitePath())
	if err != nil {
		return nil, err
	}
	return db, nil
}

func (a *App) build(ctx context.Context) error {
	setupToken := a.cfg.SetupToken
	pending, err := store.NewAccounts(a.db).SetupDone(ctx)
	if err != nil {
		return fmt.Errorf("read setup state: %w", err)
	}
	pending = !pending
	if pending && setupToken == "" {
		// No token from the runtime (a local run): make one for this process.
		setupToken = accounts.NewSecret()
		a.setupURL = a.cfg.BaseURL.String() + "/setup?token=" + setupToken
	} else if pending {
		a.setupURL = a.cfg.BaseURL.String() + "/setup?token=…"
	}
	svc, err := accounts.NewService(store.NewAccounts(a.db), accounts.Options{
		Clock: a.opts.Clock, SecretKey: a.cfg.SecretKey, SetupToken: setupToken, Hash: a.opts.Hash,
		Gate: accounts.GateOptions{Slots: accounts.HashSlots(debug.SetMemoryLimit(-1), hashParams(a.opts.Hash))},
	})
	if err != nil {
		return err
	}
	a.accounts = svc
	ts := tickets.NewService(store.NewTickets(a.db), a.opts.Clock)
	from, _ := mail.ParseAddress(a.cfg.MailFrom)
	var transport notify.Transport
	if a.cfg.SMTPURL != nil {
		transport = notify.NewSMTP(a.cfg.SMTPURL)
	}
	a.mailer = notify.NewMailer(store.NewOutbox(a.db), transport, *from, a.opts.Clock, a.log)
	a.ticketMail = notify.NewTicketMail(a.mailer, svc, a.cfg.BaseURL.String(), a.log)
	seal, err := notify.NewSealer(a.cfg.SecretKey)
	if err != nil {
		return err
	}
	a.hooks = notify.NewHooks(store.NewHooks(a.db), seal, a.mailer, svc, notify.HookOptions{Clock: a.opts.Clock, Logger: a.log, BaseURL: a.cfg.BaseURL.String()})
	ts.SetNotifier(tickets.Notifiers{a.ticketMail, notify.TicketEvents{Hooks: a.hooks}}, a.log)
	blobs := store.NewBlobs(filepath.Join(a.cfg.DataDir, "attachments"))
	atts := tickets.NewAttachments(ts, store.NewTickets(a.db), blobs, tickets.Limits{MaxFile: a.cfg.AttachmentMaxBytes, Quota: a.cfg.AttachmentQuotaBytes})
	bookMail := &notify.BookingMail{Mailer: a.mailer, Hooks: a.hooks, Clock: a.opts.Clock.Now}
	a.booking = booking.NewService(store.NewBooking(a.db), store.NewSettings(a.db), booking.Options{Clock: a.opts.Clock, Logger: a.log,
		SecretKey: a.cfg.SecretKey, BaseURL: a.cfg.BaseURL.String(), Events: bookMail})
	bookMail.Location = a.booking.Location
	a.ticketMail.Location = a.booking.Location
	a.chat = chat.NewService(store.NewChat(a.db), chat.NewHub(), chat.Options{Clock: a.opts.Clock, Logger: a.log, Files: atts, Events: a.hooks})
	a.web, err = web.New(web.Options{
		Hooks: a.hooks, Booking: a.booking, Accounts: svc, Tickets: ts, Attachments: atts, Blobs: blobs, Confirm: a.ticketMail, Transcripts: a.ticketMail, KB: kb.NewService(store.NewKB(a.db), a.opts.Clock), Outbox: a.mailer, Health: a,
		Chat: a.chat, Settings: store.NewSettings(a.db), Logger: a.log, Clock: a.opts.Clock, BaseURL: a.cfg.BaseURL,
		ReadOnly: a.cfg.Mode == config.ModeReadOnly, ReadOnlyUntil: a.cfg.ReadOnlyUntil, Version: Version,
		InstanceID: a.cfg.InstanceID,
	})
	return err
}

// Ready reports whether the database answers and its schema is the latest.
func (a *App) Ready(ctx context.Context) error {
	if err := a.db.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	cur, err := a.db.CurrentVersion(ctx)
	if err != nil {
		return err
	}
	if latest, _ := a.db.LatestVersion(); cur != latest {
		return fmt.Errorf("schema at version %d, want %d", cur, latest)
	}
	return nil
}

// Handler is the app's HTTP handler.
func (a *App) Handler() http.Handler { return a.web.Handler() }

// DataPath is a file path inside the data dir.
func (a *App) DataPath(name string) string { return filepath.Join(a.cfg.DataDir, name) }

// hashParams is the cost the accounts service will use: the override, else the default.
func hashParams(p accounts.HashParams) accounts.HashParams {
	if p == (accounts.HashParams{}) {
		return accounts.DefaultHashParams
	}
	return p
}
