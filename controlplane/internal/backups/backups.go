// Package backups runs the control plane's backups of every instance: it takes them
// (the instance's own binary writes a snapshot stream, the vault stores it encrypted),
// schedules them daily at a per-instance jittered time, expires them after the plan's
// retention (never above lifecycle.MaxRetentionDays), restores them in place (through
// the reconciler, which holds the instance's lease) or into a new instance, proves them
// weekly with restore drills into scratch instances, and raises events when one fails
// or an instance goes stale. Everything time-based reads an injected clock.
//
// Wiring (serve): Identity(ctx, store, box) gives the control plane's age identity
// (its Recipient goes into vault.Options.Recipients with every --backup-recipient, the
// identity into Identities); New(Options{…}) the service, whose Nudge is the
// reconciler; the reconciler gets the service as reconcile.Options.Restorer, the
// control service as control.Options.Backups (restore_from), the jobs through
// jobs.WithFinalBackup; Run is a worker, Schedule registers with the jobs' cron.
package backups

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/vault"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/provisioning"
)

// Store is what backups need of persistence (store.Store).
type Store interface {
	// FindInstance returns lifecycle.ErrNotFound.
	FindInstance(ctx context.Context, id string) (lifecycle.Instance, error)
	ListInstances(ctx context.Context, f lifecycle.InstanceFilter) ([]lifecycle.Instance, string, error)
	// Change returns lifecycle.ErrNotFound, or change's error.
	Change(ctx context.Context, id string, change func(*lifecycle.Instance) (lifecycle.Event, error)) (lifecycle.Instance, error)
	// AddEvent writes ev (and queues its webhook deliveries).
	AddEvent(ctx context.Context, ev lifecycle.Event) error
	MarkStale(ctx context.Context, id string, at *time.Time, ev lifecycle.Event) error

	// CreateBackup returns lifecycle.ErrConflict when b.ID exists.
	CreateBackup(ctx context.Context, b lifecycle.Backup, ev lifecycle.Event) error
	// FindBackup returns lifecycle.ErrNotFound.
	FindBackup(ctx context.Context, id string) (lifecycle.Backup, error)
	ListBackups(ctx context.Context, instanceID string) ([]lifecycle.Backup, error)
	ClaimBackup(ctx context.Context, owner string, now time.Time, ttl time.Duration) (lifecycle.Backup, bool, error)
	RenewBackupLease(ctx context.Context, id, owner string, until time.Time) error
	// UpdateBackup writes b fenced by owner's lease (lifecycle.ErrLeaseLost) and ev when
	// it has a type, in one transaction; a completed backup clears the instance's stale mark.
	UpdateBackup(ctx context.Context, b lifecycle.Backup, owner string, ev lifecycle.Event) error
	DeleteBackup(ctx context.Context, id string) error
	// DeleteBackups removes every backup row of an instance and writes ev.
	DeleteBackups(ctx context.Context, instanceID string, ev lifecycle.Event) (int, error)
	NextBackupDue(ctx context.Context) (time.Time, bool, error)
	ExpiredBackups(ctx context.Context, now time.Time) ([]lifecycle.Backup, error)
	BackupSummaries(ctx context.Context) ([]lifecycle.BackupSummary, error)

	CreateDrill(ctx context.Context, d lifecycle.Drill) error
	FinishDrill(ctx context.Context, d lifecycle.Drill, ev lifecycle.Event) error
	ListDrills(ctx context.Context, instanceID string, limit int) ([]lifecycle.Drill, error)
	UnfinishedDrills(ctx context.Context) ([]lifecycle.Drill, error)
}

// Vault is what backups need of the vault (*vault.Vault).
type Vault interface {
	Known(ctx context.Context, instanceID, backupID string) ([]string, error)
	Write(ctx context.Context, src vault.Source, backupID, prevID string, stream io.Reader) (vault.Result, error)
	Manifest(ctx context.Context, instanceID, backupID string) (vault.Manifest, error)
	Read(ctx context.Context, instanceID, backupID string, w io.Writer) (vault.Manifest, error)
	Delete(ctx context.Context, instanceID, backupID string) error
	Collect(ctx context.Context, instanceID string) (objects int, bytes int64, err error)
	Purge(ctx context.Context, instanceID string) error
}

// Specs renders specs and webhook payloads (control.Specs).
type Specs interface {
	Spec(ctx context.Context, inst lifecycle.Instance, mode provisioning.Mode) (provisioning.Spec, error)
	// ScratchSpec renders a spec for an instance the store does not hold (a drill's).
	ScratchSpec(inst lifecycle.Instance, sec lifecycle.Secrets, mode provisioning.Mode) (provisioning.Spec, error)
	BackupRetentionDays(plan string) int
	Payload(ev lifecycle.Event, inst lifecycle.Instance) []byte
}

// Nudger wakes the reconciler after a restore is asked for.
type Nudger interface{ Nudge() }

// Options configure the service.
type Options struct {
	Store   Store                // required
	Vault   Vault                // required
	Runtime provisioning.Runtime // required
	Tools   provisioning.Tools   // required: the runtime's tools
	Specs   Specs                // required
	Clock   clock.Clock
	Logger  *slog.Logger
	// Nudge wakes the reconciler when a restore is asked for (nil: it polls).
	Nudge Nudger
	// Owner names this process in backup leases (unique per process).
	Owner       string
	LeaseTTL    time.Duration // default 2 min; renewed at a third of it
	Poll        time.Duration // the worker's longest sleep (default 5 s)
	MaxAttempts int           // tries before a backup is failed (default 5)
	// DrillSample is how many instances a weekly drill round restores (default 3).
	DrillSample int
}

// Service is the backups use cases and workers.
type Service struct {
	opts     Options
	log      *slog.Logger
	nudge    chan struct{}
	drilling atomic.Bool // a drill round runs in this process
	// life is Run's context while it runs: operator-started drills run under it.
	life atomic.Pointer[context.Context]
}

// Stale is an instance without a successful backup for lifecycle.StaleAfter.
type Stale struct {
	InstanceID  string
	Slug        string
	State       lifecycle.State
	LastSuccess *time.Time // nil: never
}

// Stat is what metrics show of one instance's backups.
type Stat struct {
	InstanceID  string
	Slug        string
	LastSuccess *time.Time
	StoredBytes int64
	LastDrillOK *bool // nil: never drilled
}

// New returns the service.
func New(o Options) *Service {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Owner == "" {
		o.Owner = "backups"
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = 2 * time.Minute
	}
	if o.Poll == 0 {
		o.Poll = 5 * time.Second
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 5
	}
	if o.DrillSample == 0 {
		o.DrillSample = 3
	}
	return &Service{opts: o, log: o.Logger, nudge: make(chan struct{}, 1)}
}
