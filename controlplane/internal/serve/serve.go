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
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"

	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
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
	// BackupTarget is where backups go (file:///dir or s3://…); "" keeps none.
	BackupTarget string
	// BackupRecipients are offline keys every instance's data key is also wrapped
	// for, besides the control plane's own.
	BackupRecipients []*age.X25519Recipient
}

// Options are what tests may inject.
type Options struct {
	Clock clock.Clock
	Log   io.Writer // JSON log lines
	Ready func(apiAddr, edgeAddr string)
	Owner string // reconciler lease owner; default host-pid-random
	Conns Conns  // connection caps and idle timeout; zero fields: the defaults
	// Runtime replaces the one Config names (tests: runtimetest.Fake).
	Runtime provisioning.Runtime
	// ShutdownTimeout bounds the shutdown: draining the servers and stopping the
	// workers (default DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
}

// DefaultShutdownTimeout is how long a shutdown may take: in-flight API requests
// answer within seconds; the workers stop as soon as they are told.
const DefaultShutdownTimeout = 20 * time.Second

// Run serves until ctx ends, then shuts down in order: the servers stop accepting and
// drain their requests, the workers stop, the runtime is closed, and the database is
// closed last, since every part before uses it. Returns nil after a shutdown asked by
// ctx, the first part's error otherwise.
func Run(ctx context.Context, cfg Config, o Options) error {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = os.Stdout
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	log := slog.New(slog.NewJSONHandler(o.Log, nil))
	conns, err := o.Conns.withDefaults()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, filepath.Join(cfg.DataDir, "sproudctl.db"))
	if err != nil {
		return err
	}
	defer closeDatabase(db, log)
	rt, runtimeName := o.Runtime, "injected"
	if rt == nil {
		if rt, runtimeName, err = pickRuntime(ctx, cfg, log); err != nil {
			return err
		}
	}
	log.InfoContext(ctx, "runtime selected", "runtime", runtimeName, "version", cfg.Version)
	defer closeRuntime(rt, log) // deferred after the database: runs before it closes
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
	if _, err := db.MigrateWith(ctx, key); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := assemble(ctx, cfg, o, parts{log: log, conns: conns, rt: rt, box: box, plans: plans, db: db})
	if err != nil {
		return err
	}
	defer p.closeListeners()
	log.InfoContext(ctx, "serving", "api_addr", p.apiAddr, "edge_addr", p.edgeAddr, "base_domain", cfg.BaseDomain, "owner", p.owner,
		"edge_max_conns", conns.Edge, "api_max_conns", conns.API, "max_conns_per_peer", conns.PerPeer)
	if o.Ready != nil {
		o.Ready(p.apiAddr, p.edgeAddr)
	}
	return supervise(ctx, log, p.servers, p.workers, o.ShutdownTimeout)
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
