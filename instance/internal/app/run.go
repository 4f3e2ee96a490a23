package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sproudstack/sproudchat/instance/internal/notify"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/worker"
)

// Run serves until ctx is cancelled, then shuts down in order: it stops accepting
// connections and lets the requests in progress finish, closes the live chat
// connections with a close frame that asks their clients to reconnect, stops the
// background workers (each finishing the item it is on) and closes the database last.
// Every part runs in one errgroup and logs "worker stopped" when it has; the last line
// is "database closed". Returns an error if the server fails, or if the requests and
// chat connections outlast Options.DrainTimeout; the database is closed either way.
func (a *App) Run(ctx context.Context) error {
	defer a.Close()
	ln := a.opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", a.cfg.ListenAddr); err != nil {
			return fmt.Errorf("listen on %s: %w", a.cfg.ListenAddr, err)
		}
	}
	var inflight handlers
	srv := &http.Server{
		Handler:           inflight.track(a.web.Handler()),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	a.announce(ctx, ln.Addr())
	// Start-up (migrations, parsing the catalogs and templates) leaves garbage the
	// runtime would hand back to the system only slowly; an idle instance should not
	// keep it, since a host runs hundreds of them.
	debug.FreeOSMemory()

	// The workers stop after the server has drained, not with ctx: a request still in
	// progress may queue mail or a notification.
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	g, gctx := errgroup.WithContext(ctx)
	for _, w := range a.workers() {
		g.Go(func() error {
			w.run(wctx)
			a.log.InfoContext(wctx, "worker stopped", "worker", w.name)
			return nil
		})
	}
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		defer stopWorkers()
		a.log.InfoContext(wctx, "stopping", "cause", context.Cause(gctx).Error())
		err := a.drain(srv, &inflight)
		a.log.InfoContext(wctx, "worker stopped", "worker", "http")
		return err
	})
	return g.Wait()
}

// part is a long-running part of the instance: its run returns once ctx has ended and
// what it was doing is done.
type part struct {
	name string
	run  func(ctx context.Context)
}

// workers are the background parts, stopped after the server has drained.
func (a *App) workers() []part {
	o := func(every time.Duration) worker.Options {
		return worker.Options{Every: every, Grace: a.opts.WorkerGrace}
	}
	settings := store.NewSettings(a.db)
	wait := func(ctx context.Context) time.Duration { return notify.UnansweredWait(ctx, settings) }
	return []part{
		{"mailer", func(ctx context.Context) { a.mailer.Run(ctx, o(2*time.Second)) }},
		{"notifications", func(ctx context.Context) { a.hooks.Run(ctx, o(2*time.Second)) }},
		{"unanswered-chats", func(ctx context.Context) { a.hooks.WatchUnanswered(ctx, a.chat, wait, o(30*time.Second)) }},
		{"booking", func(ctx context.Context) { a.booking.Run(ctx, o(time.Minute)) }},
		{"checkpoints", func(ctx context.Context) { a.db.RunCheckpoints(ctx, time.Second) }},
	}
}

// drain stops accepting connections and waits, at most Options.DrainTimeout, for the
// requests in progress; then it closes the chat connections, which the server does not
// track once upgraded, and waits for their handlers too. Past the timeout it closes
// what is left and returns an error.
func (a *App) drain(srv *http.Server, inflight *handlers) error {
	ctx, cancel := context.WithTimeout(context.Background(), a.opts.DrainTimeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	a.chat.Hub().Close()
	if werr := inflight.wait(ctx); err == nil {
		err = werr
	}
	if err != nil {
		srv.Close()
		return fmt.Errorf("drain requests: %w", err)
	}
	return nil
}

// announce logs where the app listens and tells the person who started it.
func (a *App) announce(ctx context.Context, addr net.Addr) {
	mode := string(a.cfg.Mode)
	a.log.InfoContext(ctx, "listening", "addr", addr.String(), "version", Version, "mode", mode,
		"database", string(a.db.Dialect()), "base_url", a.cfg.BaseURL.String(),
		"memory_limit_bytes", debug.SetMemoryLimit(-1), "password_hashes_at_once", a.accounts.HashesAtOnce(),
		"visitor_chat_connections_at_once", a.web.MaxVisitorSockets())
	fmt.Fprintf(a.opts.Out, "sproudchat %s is running at %s (listening on %s, %s mode)\n", Version, a.cfg.BaseURL, addr, mode)
	if a.setupURL != "" {
		fmt.Fprintf(a.opts.Out, "No admin yet. Create the first one at:\n  %s\n", a.setupURL)
	}
}

// Close closes the database, once: Run calls it last. Logs "database closed".
func (a *App) Close() error {
	var err error
	a.closeDB.Do(func() {
		err = a.db.Close()
		if err != nil {
			a.log.Error("close database", "error", err.Error())
			return
		}
		a.log.Info("database closed")
	})
	return err
}

// handlers counts the handlers running, those of upgraded (hijacked) connections
// included, which http.Server.Shutdown does not wait for.
type handlers struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0
}

func (h *handlers) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		if h.n == 0 {
			h.idle = make(chan struct{})
		}
		h.n++
		h.mu.Unlock()
		defer func() {
			h.mu.Lock()
			if h.n--; h.n == 0 {
				close(h.idle)
			}
			h.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// wait returns when no handler runs, or with ctx's error.
func (h *handlers) wait(ctx context.Context) error {
	h.mu.Lock()
	if h.n == 0 {
		h.mu.Unlock()
		return nil
	}
	idle := h.idle
	h.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
