// Package serve wires one control-plane process: the API, the edge router, the
// reconciler, the scheduled jobs and the webhook deliverer, over one store and one
// runtime.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/sproudstack/sproudchat/controlplane/internal/api"
	"github.com/sproudstack/sproudchat/controlplane/internal/connlimit"
	"github.com/sproudstack/sproudchat/controlplane/internal/control"
	"github.com/sproudstack/sproudchat/controlplane/internal/edge"
	"github.com/sproudstack/sproudchat/controlplane/internal/jobs"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/metrics"
	"github.com/sproudstack/sproudchat/controlplane/internal/reconcile"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/controlplane/internal/webhook"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/provisioning"
	"github.com/sproudstack/sproudchat/provisioning/docker"
	"github.com/sproudstack/sproudchat/provisioning/process"
	"github.com/sproudstack/sproudchat/provisioning/template"
)

// Config is what `sproudctl serve` is given.
type Config struct {
	APIAddr        string
	EdgeAddr       string
	BaseDomain     string
	PublicScheme   string
	DataDir        string
	DatabaseURL    string
	Runtime        string // docker, process, or "" to pick
	Templates      string
	InstanceBinary string
	// TrustedProxies may tell the edge the visitor's address (X-Forwarded-For, PROXY
	// protocol); everyone else's forwarding headers are replaced.
	TrustedProxies []netip.Prefix
	AppVersion     string // the tag of sproudchat/app images
	SecretKey      []byte // nil: generated once into the data dir
	LeaseTTL       time.Duration
	Version        string
}

// Options are what tests may inject.
type Options struct {
	Clock clock.Clock
	Log   io.Writer // JSON log lines
	Ready func(apiAddr, edgeAddr string)
	Owner string // reconciler lease owner; default host-pid-random
	Conns Conns  // connection caps and idle timeout; zero fields: the defaults
}

// Run serves until ctx ends.
func Run(ctx context.Context, cfg Config, o Options) error {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = os.Stdout
	}
	log := slog.New(slog.NewJSONHandler(o.Log, nil))
	conns, err := o.Conns.withDefaults()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	rt, runtimeName, err := pickRuntime(ctx, cfg, log)
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "runtime selected", "runtime", runtimeName, "version", cfg.Version)
	key := cfg.SecretKey
	if key == nil {
		if key, err = secret.LoadOrCreateKey(cfg.DataDir); err != nil {
			return err
		}
	}
	box, err := secret.New(key)
	if err != nil {
		return err
	}
	plans, err := template.LoadDir(cfg.Templates)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, filepath.Join(cfg.DataDir, "sproudctl.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}

	var svc *control.Service
	st := store.New(db, store.Options{Payload: func(e lifecycle.Event, i lifecycle.Instance) []byte { return svc.Payload(e, i) }})
	router := edge.New(st, edge.Options{BaseDomain: cfg.BaseDomain, Logger: log, Locator: rt, TrustedProxies: cfg.TrustedProxies,
		Clock: o.Clock, IdleTimeout: conns.IdleTimeout, MaxConnsPerPeer: conns.PerPeer, MaxConns: conns.Edge})
	m := metrics.New(st)
	owner := o.Owner
	if owner == "" {
		host, _ := os.Hostname()
		owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), secret.Random(3))
	}
	var rec *reconcile.Reconciler
	svc = control.New(st, control.Options{Clock: o.Clock, Box: box, Plans: plans, Version: cfg.AppVersion, BaseDomain: cfg.BaseDomain,
		Scheme: cfg.PublicScheme, PublicPort: control.PublicPort(cfg.EdgeAddr), Nudge: func() { rec.Nudge() }})
	rec = reconcile.New(st, rt, svc, reconcile.Options{Owner: owner, Clock: o.Clock, Logger: log, LeaseTTL: cfg.LeaseTTL,
		OnChange: func(inst lifecycle.Instance, from lifecycle.State, took time.Duration) {
			if err := router.Refresh(context.WithoutCancel(ctx)); err != nil {
				log.Warn("edge refresh", "error", err.Error())
			}
			if took > 0 {
				m.Transition(from, inst.State, took)
			}
		},
		OnError: func(inst lifecycle.Instance, _ error) { m.Error(inst.Desired) },
	})
	if err := router.Refresh(ctx); err != nil {
		return err
	}
	apiSrv := api.New(api.Options{Service: svc, Store: st, Runtime: rt, Box: box, Clock: o.Clock, Logger: log, Metrics: m.Handler(), Version: cfg.Version})

	apiLn, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("listen on --api-addr %s: %w", cfg.APIAddr, err)
	}
	edgeLn, err := net.Listen("tcp", cfg.EdgeAddr)
	if err != nil {
		apiLn.Close()
		return fmt.Errorf("listen on --edge-addr %s: %w", cfg.EdgeAddr, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	servers := []*http.Server{apiServer(apiSrv.Handler(), conns), router.Server()}
	// The API gets no exempt peers: --trusted-proxies are the edge's.
	apiLimited := connlimit.New(apiLn, connlimit.Options{Name: "api", PerPeer: conns.PerPeer, Total: conns.API, Logger: log, Clock: o.Clock})
	errc := make(chan error, 2)
	for i, ln := range []net.Listener{apiLimited, router.Listener(edgeLn)} {
		go func(s *http.Server, ln net.Listener) {
			if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}(servers[i], ln)
	}
	done := make(chan struct{})
	go func() { rec.Run(ctx); close(done) }()
	go router.Run(ctx, 5*time.Second)
	go webhook.New(st, box, o.Clock, log).Run(ctx)
	c := cron.New()
	jobs.New(st, svc, o.Clock, log).Schedule(ctx, c)
	c.Start()
	log.InfoContext(ctx, "serving", "api_addr", apiLn.Addr().String(), "edge_addr", edgeLn.Addr().String(), "base_domain", cfg.BaseDomain, "owner", owner,
		"edge_max_conns", conns.Edge, "api_max_conns", conns.API, "max_conns_per_peer", conns.PerPeer)
	if o.Ready != nil {
		o.Ready(apiLn.Addr().String(), edgeLn.Addr().String())
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	cancel()
	<-c.Stop().Done()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	for _, s := range servers {
		s.Shutdown(sctx)
	}
	<-done
	if pr, ok := rt.(*process.Runtime); ok {
		pr.Close() // instances keep running; the next serve adopts them
	}
	log.Info("stopped")
	return runErr
}

// pickRuntime returns the configured runtime; with none configured, Docker when an
// engine answers, else local processes.
func pickRuntime(ctx context.Context, cfg Config, log *slog.Logger) (provisioning.Runtime, string, error) {
	name := cfg.Runtime
	if name == "" {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := docker.Ping(pctx)
		cancel()
		name = "process"
		if err == nil {
			name = "docker"
		}
	}
	switch name {
	case "docker":
		rt, err := newDocker(cfg, log)
		return rt, name, err
	case "process":
		if cfg.InstanceBinary == "" {
			return nil, "", errors.New("--instance-binary: no sproudchat binary found beside sproudctl or on PATH")
		}
		log.WarnContext(ctx, "the process runtime runs every instance as this user with no memory limit: for development and single-customer use only")
		rt, err := process.New(process.Options{Binary: cfg.InstanceBinary, Dir: filepath.Join(cfg.DataDir, "runtime"), Logger: log})
		return rt, name, err
	}
	return nil, "", fmt.Errorf("--runtime %q: must be docker or process", name)
}
