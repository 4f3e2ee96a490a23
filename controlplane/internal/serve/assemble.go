package serve

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/sproudstack/sproudchat/controlplane/internal/api"
	"github.com/sproudstack/sproudchat/controlplane/internal/backups"
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
	"github.com/sproudstack/sproudchat/provisioning"
	"github.com/sproudstack/sproudchat/provisioning/template"
)

// parts are what Run made before wiring the rest.
type parts struct {
	log   *slog.Logger
	conns Conns
	rt    provisioning.Runtime
	box   *secret.Box
	plans map[string]template.Plan
	db    *store.DB
}

// plane is the wired control plane: its servers and workers, ready to run.
type plane struct {
	apiAddr, edgeAddr string
	owner             string
	servers           []server
	workers           []worker
	listeners         []net.Listener
}

func (p *plane) closeListeners() {
	for _, ln := range p.listeners {
		ln.Close() // already closed by a server's Shutdown, unless it never served
	}
}

// edgeRefresh is how often the edge reloads its table for changes made by another
// control-plane process.
const edgeRefresh = 5 * time.Second

// assemble builds every part in the order they depend on each other: the store, the
// renderer of specs, the edge router and the metrics, the reconciler, the use cases
// over them, the API over those, the workers.
func assemble(ctx context.Context, cfg Config, o Options, in parts) (*plane, error) {
	log := in.log
	st := store.New(in.db)
	specs := control.NewSpecs(st, control.SpecOptions{Box: in.box, Plans: in.plans, Version: cfg.AppVersion, BaseDomain: cfg.BaseDomain,
		Scheme: cfg.PublicScheme, PublicPort: control.PublicPort(cfg.EdgeAddr)})
	router := edge.New(st, edge.Options{BaseDomain: cfg.BaseDomain, Logger: log, Locator: in.rt, TrustedProxies: cfg.TrustedProxies,
		Clock: o.Clock, IdleTimeout: in.conns.IdleTimeout, MaxConnsPerPeer: in.conns.PerPeer, MaxConns: in.conns.Edge})
	m := metrics.New(st)
	owner := o.Owner
	if owner == "" {
		host, _ := os.Hostname()
		owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), secret.Random(3))
	}
	v, tools, err := openVault(ctx, cfg, in, st, o.Clock)
	if err != nil {
		return nil, err
	}
	var (
		bk       *backups.Service
		restorer reconcile.Restorer
		nudge    = &nudgeLater{}
	)
	if v != nil {
		bk = backups.New(backups.Options{Store: st, Vault: v, Runtime: in.rt, Tools: tools, Specs: specs, Clock: o.Clock, Logger: log,
			Nudge: nudge, Owner: owner, LeaseTTL: cfg.LeaseTTL})
		restorer = bk
		m.WatchBackups(bk)
	}
	rec := reconcile.New(st, in.rt, specs, reconcile.Options{Owner: owner, Clock: o.Clock, Logger: log, LeaseTTL: cfg.LeaseTTL, Restorer: restorer,
		OnChange: func(inst lifecycle.Instance, from lifecycle.State, took time.Duration) {
			// The reconciler's context ends at shutdown; the refresh is quick and the
			// database closes only after the reconciler has stopped.
			if err := router.Refresh(context.WithoutCancel(ctx)); err != nil {
				log.Warn("edge refresh", "error", err.Error())
			}
			if took > 0 {
				m.Transition(from, inst.State, took)
			}
		},
		OnError: func(inst lifecycle.Instance, _ error) { m.Error(inst.Desired) },
	})
	nudge.nudge = rec.Nudge
	copts := control.Options{Clock: o.Clock, Specs: specs, Nudge: rec}
	apiOpts := api.Options{Tokens: control.NewTokens(st, o.Clock), GC: control.NewGC(st, in.rt, control.GCOptions{Clock: o.Clock, Logger: log}), Database: in.db,
		Runtime: in.rt, Logger: log, Metrics: m.Handler(), Version: cfg.Version}
	if bk != nil {
		copts.Backups, apiOpts.Backups = bk, bk
	}
	svc := control.New(st, copts)
	hooks := control.NewWebhooks(st, in.box, o.Clock)
	if err := router.Refresh(ctx); err != nil {
		return nil, err
	}
	apiOpts.Instances, apiOpts.Webhooks = svc, hooks
	apiSrv := api.New(apiOpts)

	apiLn, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on --api-addr %s: %w", cfg.APIAddr, err)
	}
	edgeLn, err := net.Listen("tcp", cfg.EdgeAddr)
	if err != nil {
		apiLn.Close()
		return nil, fmt.Errorf("listen on --edge-addr %s: %w", cfg.EdgeAddr, err)
	}
	// The API gets no exempt peers: --trusted-proxies are the edge's.
	apiLimited := connlimit.New(apiLn, connlimit.Options{Name: "api", PerPeer: in.conns.PerPeer, Total: in.conns.API, Logger: log, Clock: o.Clock})
	deliverer := webhook.New(st, hooks, o.Clock, log)
	scheduled := jobs.New(st, svc, o.Clock, log)
	workers := []worker{
		{name: "reconciler", run: rec.Run},
		{name: "edge-refresh", run: func(ctx context.Context) { router.Run(ctx, edgeRefresh) }},
		{name: "webhooks", run: deliverer.Run},
		{name: "jobs", run: func(ctx context.Context) { runCron(ctx, scheduled, bk) }},
	}
	if bk != nil {
		scheduled.WithFinalBackup(bk)
		workers = append(workers, worker{name: "backups", run: bk.Run})
	}
	return &plane{
		apiAddr: apiLn.Addr().String(), edgeAddr: edgeLn.Addr().String(), owner: owner,
		listeners: []net.Listener{apiLn, edgeLn},
		servers: []server{
			{name: "api", srv: apiServer(apiSrv.Handler(), in.conns), ln: apiLimited},
			{name: "edge", srv: router.Server(), ln: router.Listener(edgeLn)},
		},
		workers: workers,
	}, nil
}

// runCron runs the scheduled jobs, and the backups' when bk is not nil, until ctx
// ends, then waits for a running one.
func runCron(ctx context.Context, j *jobs.Jobs, bk *backups.Service) {
	c := cron.New()
	j.Schedule(ctx, c)
	if bk != nil {
		bk.Schedule(ctx, c)
	}
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
}
