package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
)

// Store is the control plane's persistence over one database. It implements the
// interfaces its consumers declare (control.Store, reconcile.Store, edge.Routes, …)
// with the domain types of lifecycle.
type Store struct {
	db *DB
}

// New returns the store of db.
func New(db *DB) *Store { return &Store{db: db} }

// DB returns the underlying database.
func (s *Store) DB() *DB { return s.db }

type instanceRow struct {
	ID             string `gorm:"primaryKey"`
	CustomerID     string
	Slug           string
	Plan           string
	AdminEmail     string
	AdminName      string
	State          string
	DesiredState   string
	Upstream       string
	LastError      string
	Attempts       int
	NextAttemptAt  time.Time
	Secrets        []byte
	SuspendReason  string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	SuspendedAt    *time.Time
	PurgeAfter     *time.Time
	DestroyedAt    *time.Time
	LeaseOwner     string
	LeaseExpiresAt *time.Time
	// Backups (migration 0004).
	RestoreBackupID  string
	RestoreFromState string
	BackupStaleAt    *time.Time
}

func (instanceRow) TableName() string { return "instances" }

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (r instanceRow) domain() lifecycle.Instance {
	return lifecycle.Instance{ID: r.ID, CustomerID: r.CustomerID, Slug: r.Slug, Plan: r.Plan, AdminEmail: r.AdminEmail,
		AdminName: r.AdminName, State: lifecycle.State(r.State), Desired: lifecycle.Desired(r.DesiredState),
		Upstream: r.Upstream, LastError: r.LastError, Attempts: r.Attempts, NextAttempt: r.NextAttemptAt.UTC(),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), SuspendedAt: utc(r.SuspendedAt), PurgeAfter: utc(r.PurgeAfter),
		DestroyedAt: utc(r.DestroyedAt), SuspendNote: r.SuspendReason, LeaseOwner: r.LeaseOwner, LeaseExpires: utc(r.LeaseExpiresAt),
		RestoreBackupID: r.RestoreBackupID, RestoreFrom: lifecycle.State(r.RestoreFromState), BackupStaleAt: utc(r.BackupStaleAt)}
}

// fields are the columns a transition may change (never id, slug, customer, created_at).
func fields(i lifecycle.Instance) map[string]any {
	return map[string]any{"state": string(i.State), "desired_state": string(i.Desired), "upstream": i.Upstream,
		"last_error": i.LastError, "attempts": i.Attempts, "next_attempt_at": i.NextAttempt, "updated_at": i.UpdatedAt,
		"suspended_at": i.SuspendedAt, "purge_after": i.PurgeAfter, "destroyed_at": i.DestroyedAt,
		"suspend_reason": i.SuspendNote, "admin_email": i.AdminEmail, "admin_name": i.AdminName,
		"restore_backup_id": i.RestoreBackupID, "restore_from_state": string(i.RestoreFrom)}
}

type eventRow struct {
	ID         int64 `gorm:"primaryKey"`
	InstanceID string
	Type       string
	At         time.Time
	Actor      string
	Reason     string
	FromState  string
	ToState    string
}

func (eventRow) TableName() string { return "events" }

func (r eventRow) domain() lifecycle.Event {
	return lifecycle.Event{ID: r.ID, InstanceID: r.InstanceID, Type: r.Type, At: r.At.UTC(), Actor: r.Actor, Reason: r.Reason,
		FromState: lifecycle.State(r.FromState), ToState: lifecycle.State(r.ToState)}
}

type idemRow struct {
	TokenID     int64  `gorm:"primaryKey;autoIncrement:false"`
	Key         string `gorm:"primaryKey"`
	RequestHash string
	Status      int
	Body        string
	CreatedAt   time.Time
}

func (idemRow) TableName() string { return "idempotency_keys" }

// CreateInstance stores a new instance, its first event (with its webhook deliveries)
// and, when idem is not nil, the response under its key, all in one transaction.
// idem.Body is stored as given: the caller seals it. Returns lifecycle.ErrKeyUsed when
// the key was used before, lifecycle.ErrConflict when the slug is taken.
func (s *Store) CreateInstance(ctx context.Context, inst lifecycle.Instance, sealedSecrets []byte, ev lifecycle.Event, idem *lifecycle.Idempotent) error {
	return s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if idem != nil {
			row := idemRow{TokenID: idem.TokenID, Key: idem.Key, RequestHash: idem.RequestHash, Status: idem.Status,
				Body: base64.StdEncoding.EncodeToString(idem.Body), CreatedAt: inst.CreatedAt}
			if err := tx.Create(&row).Error; err != nil {
				if errors.Is(translate(err), lifecycle.ErrConflict) {
					return lifecycle.ErrKeyUsed
				}
				return err
			}
		}
		row := instanceRow{ID: inst.ID, CustomerID: inst.CustomerID, Slug: inst.Slug, Plan: inst.Plan, AdminEmail: inst.AdminEmail,
			AdminName: inst.AdminName, State: string(inst.State), DesiredState: string(inst.Desired), NextAttemptAt: inst.NextAttempt,
			Secrets: sealedSecrets, CreatedAt: inst.CreatedAt, UpdatedAt: inst.UpdatedAt, RestoreBackupID: inst.RestoreBackupID,
			RestoreFromState: string(inst.RestoreFrom)}
		if err := tx.Create(&row).Error; err != nil {
			if errors.Is(translate(err), lifecycle.ErrConflict) {
				return fmt.Errorf("%w: slug %q is taken", lifecycle.ErrConflict, inst.Slug)
			}
			return err
		}
		return addEvent(tx, ev)
	})
}

// FindIdempotent returns the stored response for a key, its body as it was stored
// (sealed). Returns lifecycle.ErrNotFound.
func (s *Store) FindIdempotent(ctx context.Context, tokenID int64, key string) (lifecycle.Idempotent, error) {
	var r idemRow
	if err := s.db.gorm.WithContext(ctx).Where("token_id = ? AND key = ?", tokenID, key).Take(&r).Error; err != nil {
		return lifecycle.Idempotent{}, translate(err)
	}
	body, err := base64.StdEncoding.DecodeString(r.Body)
	if err != nil {
		return lifecycle.Idempotent{}, fmt.Errorf("decode stored response: %w", err)
	}
	return lifecycle.Idempotent{TokenID: r.TokenID, Key: r.Key, RequestHash: r.RequestHash, Status: r.Status, Body: body}, nil
}

// DeleteIdempotentBefore forgets stored responses older than t.
func (s *Store) DeleteIdempotentBefore(ctx context.Context, t time.Time) (int64, error) {
	res := s.db.gorm.WithContext(ctx).Where("created_at < ?", t).Delete(&idemRow{})
	return res.RowsAffected, res.Error
}

// FindInstance returns lifecycle.ErrNotFound for an unknown id.
func (s *Store) FindInstance(ctx context.Context, id string) (lifecycle.Instance, error) {
	var r instanceRow
	if err := s.db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return lifecycle.Instance{}, translate(err)
	}
	return r.domain(), nil
}

// Secrets returns an instance's sealed secrets.
func (s *Store) Secrets(ctx context.Context, id string) ([]byte, error) {
	var r instanceRow
	if err := s.db.gorm.WithContext(ctx).Select("secrets").Where("id = ?", id).Take(&r).Error; err != nil {
		return nil, translate(err)
	}
	return r.Secrets, nil
}

// ListInstances returns instances in id (creation) order, and the cursor of the next
// page, "" on the last.
func (s *Store) ListInstances(ctx context.Context, f lifecycle.InstanceFilter) ([]lifecycle.Instance, string, error) {
	q := s.db.gorm.WithContext(ctx).Order("id").Limit(f.Limit + 1)
	if f.CustomerID != "" {
		q = q.Where("customer_id = ?", f.CustomerID)
	}
	if f.State != "" {
		q = q.Where("state = ?", string(f.State))
	}
	if f.After != "" {
		q = q.Where("id > ?", f.After)
	}
	var rows []instanceRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		next = rows[len(rows)-1].ID
	}
	out := make([]lifecycle.Instance, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, next, nil
}

// Change changes an instance outside any lease (what the API asks: a new desired
// state, a retry). change may refuse with an error; otherwise the row and ev (when it
// has a type) are written in one transaction. Returns lifecycle.ErrNotFound.
func (s *Store) Change(ctx context.Context, id string, change func(*lifecycle.Instance) (lifecycle.Event, error)) (lifecycle.Instance, error) {
	var out lifecycle.Instance
	err := s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r instanceRow
		q := tx
		if s.db.dialect == Postgres {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		if err := q.Where("id = ?", id).Take(&r).Error; err != nil {
			return translate(err)
		}
		inst := r.domain()
		ev, err := change(&inst)
		if err != nil {
			return err
		}
		if err := tx.Model(&instanceRow{}).Where("id = ?", id).Updates(fields(inst)).Error; err != nil {
			return err
		}
		out = inst
		if ev.Type == "" {
			return nil
		}
		return addEvent(tx, ev)
	})
	return out, err
}

// unsettled selects instances whose state is not yet their desired state.
const unsettled = `NOT ((desired_state = 'active' AND state IN ('active', 'failed'))
	OR (desired_state = 'suspended' AND state IN ('suspended', 'failed'))
	OR (desired_state = 'destroyed' AND state = 'destroyed'))`

// Claim leases one unsettled instance that is due and not leased by a live worker. The
// lease is taken by a conditional update, so two workers (in two processes, on one
// database) never hold one instance at once. Returns ok=false when nothing is due.
func (s *Store) Claim(ctx context.Context, owner string, now time.Time, ttl time.Duration) (lifecycle.Instance, bool, error) {
	var ids []string
	err := s.db.gorm.WithContext(ctx).Model(&instanceRow{}).Where(unsettled).Where("next_attempt_at <= ?", now).
		Where("(lease_owner = '' OR lease_expires_at < ?)", now).Order("next_attempt_at").Limit(8).Pluck("id", &ids).Error
	if err != nil {
		return lifecycle.Instance{}, false, err
	}
	for _, id := range ids {
		res := s.db.gorm.WithContext(ctx).Model(&instanceRow{}).
			Where("id = ? AND (lease_owner = '' OR lease_expires_at < ?)", id, now).
			Updates(map[string]any{"lease_owner": owner, "lease_expires_at": now.Add(ttl)})
		if res.Error != nil {
			return lifecycle.Instance{}, false, res.Error
		}
		if res.RowsAffected == 1 {
			inst, err := s.FindInstance(ctx, id)
			return inst, err == nil, err
		}
	}
	return lifecycle.Instance{}, false, nil
}

// NextDue tells when the earliest unsettled instance is due, for the worker's sleep.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var r instanceRow
	err := s.db.gorm.WithContext(ctx).Select("next_attempt_at").Where(unsettled).Order("next_attempt_at").Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return time.Time{}, false, nil
	}
	return r.NextAttemptAt, err == nil, err
}

// RenewLease extends owner's lease. Returns lifecycle.ErrLeaseLost when another holds it.
func (s *Store) RenewLease(ctx context.Context, id, owner string, until time.Time) error {
	res := s.db.gorm.WithContext(ctx).Model(&instanceRow{}).Where("id = ? AND lease_owner = ?", id, owner).Update("lease_expires_at", until)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return lifecycle.ErrLeaseLost
	}
	return nil
}

// Release gives up owner's lease.
func (s *Store) Release(ctx context.Context, id, owner string) error {
	return s.db.gorm.WithContext(ctx).Model(&instanceRow{}).Where("id = ? AND lease_owner = ?", id, owner).
		Updates(map[string]any{"lease_owner": "", "lease_expires_at": nil}).Error
}

// Transition writes inst (changed by the worker holding the lease) and ev in one
// transaction, fenced by the lease: returns lifecycle.ErrLeaseLost if owner no longer
// holds it. ev without a type writes only the row.
func (s *Store) Transition(ctx context.Context, inst lifecycle.Instance, owner string, ev lifecycle.Event) error {
	return s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&instanceRow{}).Where("id = ? AND lease_owner = ?", inst.ID, owner).Updates(fields(inst))
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return lifecycle.ErrLeaseLost
		}
		if ev.Type == "" {
			return nil
		}
		return addEvent(tx, ev)
	})
}

// Tombstone keeps an instance's id, customer, plan and timestamps and drops everything
// of its content: admin contact, secrets, upstream.
func (s *Store) Tombstone(ctx context.Context, id string) error {
	return s.db.gorm.WithContext(ctx).Model(&instanceRow{}).Where("id = ?", id).
		Updates(map[string]any{"admin_email": "", "admin_name": "", "secrets": nil, "upstream": "", "suspend_reason": ""}).Error
}

func addEvent(tx *gorm.DB, ev lifecycle.Event) error {
	row := eventRow{InstanceID: ev.InstanceID, Type: ev.Type, At: ev.At, Actor: ev.Actor, Reason: ev.Reason,
		FromState: string(ev.FromState), ToState: string(ev.ToState)}
	if err := tx.Create(&row).Error; err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	ev.ID = row.ID
	return queueDeliveries(tx, ev)
}

// ListEvents returns an instance's events in order.
func (s *Store) ListEvents(ctx context.Context, instanceID string) ([]lifecycle.Event, error) {
	var rows []eventRow
	if err := s.db.gorm.WithContext(ctx).Where("instance_id = ?", instanceID).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]lifecycle.Event, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// DeleteEventsBefore removes events older than t; instance rows (and tombstones) stay.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error) {
	res := s.db.gorm.WithContext(ctx).Where("at < ?", t).Delete(&eventRow{})
	return res.RowsAffected, res.Error
}

// DuePurges returns suspended instances whose purge_after has passed and that are not
// yet being destroyed.
func (s *Store) DuePurges(ctx context.Context, now time.Time) ([]lifecycle.Instance, error) {
	var rows []instanceRow
	err := s.db.gorm.WithContext(ctx).Where("desired_state = ? AND purge_after IS NOT NULL AND purge_after <= ?", lifecycle.WantSuspended, now).
		Find(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]lifecycle.Instance, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// Routes returns the routing entry of every instance, tombstones included (the edge
// answers 410 for them) unless a live instance holds the slug again.
func (s *Store) Routes(ctx context.Context) ([]lifecycle.Route, error) {
	var rows []instanceRow
	if err := s.db.gorm.WithContext(ctx).Select("id, slug, state, upstream").Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]lifecycle.Route, len(rows))
	for i, r := range rows {
		out[i] = lifecycle.Route{Slug: r.Slug, ID: r.ID, State: lifecycle.State(r.State), Upstream: r.Upstream}
	}
	return out, nil
}

// CountByState returns how many instances are in each state.
func (s *Store) CountByState(ctx context.Context) (map[lifecycle.State]int, error) {
	var rows []struct {
		State string
		N     int
	}
	if err := s.db.gorm.WithContext(ctx).Model(&instanceRow{}).Select("state, COUNT(*) AS n").Group("state").Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := map[lifecycle.State]int{}
	for _, r := range rows {
		out[lifecycle.State(r.State)] = r.N
	}
	return out, nil
}
