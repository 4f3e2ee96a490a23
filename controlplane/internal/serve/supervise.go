package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/provisioning"
	"github.com/sproudstack/sproudchat/provisioning/process"
)

// server is a long-running part that accepts connections.
type server struct {
	name string
	srv  *http.Server
	ln   net.Listener
}

// worker is a long-running part that works until its context ends.
type worker struct {
	name string
	run  func(ctx context.Context)
}

// supervise runs every server and worker in one errgroup until ctx ends or one of them
// fails, then shuts down in order: the servers stop accepting and drain their requests
// (their handlers may still wake the workers), then the workers are told to stop, and
// supervise returns when every one has. The whole shutdown has timeout; past it
// supervise returns an error without waiting for what still runs.
func supervise(ctx context.Context, log *slog.Logger, servers []server, workers []worker, timeout time.Duration) error {
	g, gctx := errgroup.WithContext(ctx)
	// The workers' context is not ctx's child: they stop after the servers drained.
	workCtx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	// Shutdown neither closes nor waits for hijacked connections (WebSockets through the
	// edge): their requests' context ends after the drain, which closes them.
	connCtx, endConns := context.WithCancel(context.WithoutCancel(ctx))
	defer endConns()
	for _, s := range servers {
		s.srv.BaseContext = func(net.Listener) context.Context { return connCtx }
		g.Go(func() error {
			if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve %s: %w", s.name, err)
			}
			return nil
		})
	}
	for _, w := range workers {
		g.Go(func() error {
			w.run(workCtx)
			log.Info("worker stopped", "worker", w.name)
			return nil
		})
	}
	stopping := make(chan struct{})
	g.Go(func() error {
		<-gctx.Done()
		close(stopping)
		log.Info("shutting down", "timeout", timeout.String())
		// The drain may take three quarters of the time; the workers stop in the rest.
		sctx, cancel := context.WithTimeout(context.Background(), timeout*3/4)
		defer cancel()
		for _, s := range servers {
			if err := s.srv.Shutdown(sctx); err != nil {
				log.Warn("server drain cut short", "server", s.name, "error", err.Error())
				s.srv.Close()
			}
			log.Info("server stopped", "server", s.name)
		}
		endConns()
		stopWorkers()
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-stopping:
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case err = <-done:
		case <-t.C:
			return fmt.Errorf("shutdown: still running after %s", timeout)
		}
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	if err != nil {
		log.Error("serve", "error", err.Error())
	}
	return nil
}

// closeRuntime lets go of the runtime: its instances keep running, and the next serve
// adopts them.
func closeRuntime(rt provisioning.Runtime, log *slog.Logger) {
	switch r := rt.(type) {
	case *process.Runtime:
		r.Close()
	case interface{ Close() error }: // the Docker runtime: its engine client
		if err := r.Close(); err != nil {
			log.Warn("close runtime", "error", err.Error())
		}
	}
	log.Info("runtime closed")
}

// closeDatabase closes the database: the last step of a shutdown.
func closeDatabase(db *store.DB, log *slog.Logger) {
	if err := db.Close(); err != nil {
		log.Error("close database", "error", err.Error())
		return
	}
	log.Info("database closed")
}
