package backups

import (
	"context"
	"errors"

	"github.com/robfig/cron/v3"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
)

var errTODO = errors.New("backups: not implemented yet")

// Create asks for a backup of instance id now (trigger manual); the worker takes it.
// Returns lifecycle.ErrNotFound for an unknown instance, lifecycle.ErrConflict for a
// destroyed one.
func (s *Service) Create(ctx context.Context, instanceID, actor string) (lifecycle.Backup, error) {
	return lifecycle.Backup{}, errTODO
}

// List returns an instance's backups, newest first. Returns lifecycle.ErrNotFound for
// an unknown instance.
func (s *Service) List(ctx context.Context, instanceID string) ([]lifecycle.Backup, error) {
	return nil, errTODO
}

// Restore asks for instance id's data to be replaced by backup backupID: the instance
// goes to restoring and the reconciler does the work. Returns lifecycle.ErrNotFound for
// an unknown instance or backup (or one of another instance), lifecycle.ErrConflict
// when the instance is not active or suspended or the backup is not completed.
func (s *Service) Restore(ctx context.Context, instanceID, backupID, actor string) (lifecycle.Instance, error) {
	return lifecycle.Instance{}, errTODO
}

// Purge erases every backup of an instance at the target and in the store (a
// customer's erasure request). Returns how many backups it removed.
func (s *Service) Purge(ctx context.Context, instanceID, actor string) (int, error) {
	return 0, errTODO
}

// Drills returns the latest drills, newest first, of one instance ("" for all).
func (s *Service) Drills(ctx context.Context, instanceID string, limit int) ([]lifecycle.Drill, error) {
	return nil, errTODO
}

// Stale lists the instances without a successful backup for lifecycle.StaleAfter.
func (s *Service) Stale(ctx context.Context) ([]Stale, error) { return nil, errTODO }

// Stats returns, per backed-up instance, what metrics show.
func (s *Service) Stats(ctx context.Context) ([]Stat, error) { return nil, errTODO }

// Run works pending backups until ctx ends.
func (s *Service) Run(ctx context.Context) { <-ctx.Done() }

// Schedule registers the scheduled work with c.
func (s *Service) Schedule(ctx context.Context, c *cron.Cron) {}
