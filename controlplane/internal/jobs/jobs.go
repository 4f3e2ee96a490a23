// Package jobs holds the scheduled work of the control plane: purging instances whose
// read-only period has ended, and the retention of events and idempotency records. Each
// job reads an injected clock, so tests move time instead of waiting for it.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// Store is what the jobs need of persistence.
type Store interface {
	DuePurges(ctx context.Context, now time.Time) ([]lifecycle.Instance, error)
	DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error)
	DeleteIdempotentBefore(ctx context.Context, t time.Time) (int64, error)
}

// Destroyer asks for an instance's destruction (the control service).
type Destroyer interface {
	Destroy(ctx context.Context, id, reason, actor string) (lifecycle.Instance, error)
}

// FinalBackup takes an instance's last backup before its purge (backups.Service):
// asked the first time, done once it completed or failed for good.
type FinalBackup interface {
	FinalBackup(ctx context.Context, inst lifecycle.Instance) (done bool, err error)
}

// Retention periods.
const (
	EventRetention       = 90 * 24 * time.Hour
	IdempotencyRetention = 24 * time.Hour
)

// Jobs runs the scheduled work.
type Jobs struct {
	store Store
	svc   Destroyer
	clock clock.Clock
	log   *slog.Logger
	final FinalBackup
}

// WithFinalBackup makes the purge wait for each instance's final backup (DESIGN.md,
// data flow 5); without it (no backup target) the purge destroys at once.
func (j *Jobs) WithFinalBackup(f FinalBackup) *Jobs {
	j.final = f
	return j
}

// New returns the jobs.
func New(s Store, svc Destroyer, c clock.Clock, log *slog.Logger) *Jobs {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Jobs{store: s, svc: svc, clock: c, log: log}
}

// Purge asks for the destruction of every suspended instance past its purge_after,
// once its final backup is done (when backups are on). Returns how many it asked for.
func (j *Jobs) Purge(ctx context.Context) (int, error) {
	due, err := j.store.DuePurges(ctx, j.clock.Now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, inst := range due {
		if j.final != nil {
			done, err := j.final.FinalBackup(ctx, inst)
			if err != nil {
				return n, fmt.Errorf("final backup of %s: %w", inst.ID, err)
			}
			if !done {
				continue // the next run looks again
			}
		}
		if _, err := j.svc.Destroy(ctx, inst.ID, "read-only period ended", "purge"); err != nil {
			return 0, err
		}
		j.log.InfoContext(ctx, "purging instance", "instance_id", inst.ID, "customer_id", inst.CustomerID)
		n++
	}
	return n, nil
}

// Retention deletes events older than 90 days (instance tombstones stay) and
// idempotency records older than a day (they may hold a setup link).
func (j *Jobs) Retention(ctx context.Context) error {
	now := j.clock.Now()
	ev, err := j.store.DeleteEventsBefore(ctx, now.Add(-EventRetention))
	if err != nil {
		return err
	}
	idem, err := j.store.DeleteIdempotentBefore(ctx, now.Add(-IdempotencyRetention))
	if err != nil {
		return err
	}
	if ev+idem > 0 {
		j.log.InfoContext(ctx, "retention", "events_deleted", ev, "idempotency_records_deleted", idem)
	}
	return nil
}

// Schedule registers the jobs with c.
func (j *Jobs) Schedule(ctx context.Context, c *cron.Cron) {
	c.AddFunc("@every 1m", func() {
		if _, err := j.Purge(ctx); err != nil {
			j.log.ErrorContext(ctx, "purge job", "error", err.Error())
		}
	})
	c.AddFunc("@every 1h", func() {
		if err := j.Retention(ctx); err != nil {
			j.log.ErrorContext(ctx, "retention job", "error", err.Error())
		}
	})
}
