package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

// Accounts implements accounts.Store.
type Accounts struct{ db *DB }

// NewAccounts returns the accounts store of db.
func NewAccounts(db *DB) *Accounts { return &Accounts{db: db} }

var _ accounts.Store = (*Accounts)(nil)

type userRow struct {
	ID           int64 `gorm:"primaryKey"`
	Email        string
	Name         string
	Role         string
	Active       bool
	Locale       string
	TicketScope  string
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastLoginAt  *time.Time
}

func (userRow) TableName() string { return "users" }

func (r userRow) domain() accounts.User {
	return accounts.User{ID: r.ID, Email: r.Email, Name: r.Name, Role: accounts.Role(r.Role), Active: r.Active,
		Locale: r.Locale, TicketScope: r.TicketScope, PasswordHash: r.PasswordHash, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), LastLoginAt: utcPtr(r.LastLoginAt)}
}

func toUserRow(u accounts.User) userRow {
	if u.TicketScope == "" {
		u.TicketScope = accounts.ScopeAll
	}
	return userRow{ID: u.ID, Email: u.Email, Name: u.Name, Role: string(u.Role), Active: u.Active,
		Locale: u.Locale, TicketScope: u.TicketScope, PasswordHash: u.PasswordHash, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastLoginAt: u.LastLoginAt}
}

type sessionRow struct {
	Hash      string `gorm:"primaryKey"`
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
	IP        string
	UserAgent string
}

func (sessionRow) TableName() string { return "sessions" }

type tokenRow struct {
	ID         int64 `gorm:"primaryKey"`
	UserID     int64
	Name       string
	Prefix     string
	Hash       string
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

func (tokenRow) TableName() string { return "api_tokens" }

func (r tokenRow) domain() accounts.APIToken {
	return accounts.APIToken{ID: r.ID, UserID: r.UserID, Name: r.Name, Prefix: r.Prefix, Hash: r.Hash,
		CreatedAt: r.CreatedAt.UTC(), LastUsedAt: utcPtr(r.LastUsedAt)}
}

type auditRow struct {
	ID         int64 `gorm:"primaryKey"`
	At         time.Time
	ActorID    int64
	ActorEmail string
	Action     string
	TargetType string
	TargetID   string
	Detail     string
	IP         string `gorm:"column:ip"`
}

func (auditRow) TableName() string { return "audit_log" }

type metaRow struct {
	Key       string `gorm:"primaryKey"`
	Value     string
	UpdatedAt time.Time
}

func (metaRow) TableName() string { return "meta" }

const metaSetupCompleted = "setup_completed_at"

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s *Accounts) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return translate(s.db.gorm.WithContext(ctx).Transaction(fn))
}

func addAudit(tx *gorm.DB, a accounts.AuditEntry) error {
	row := auditRow{At: a.At, ActorID: a.ActorID, ActorEmail: a.ActorEmail, Action: a.Action,
		TargetType: a.TargetType, TargetID: a.TargetID, Detail: a.Detail, IP: a.IP}
	if err := tx.Create(&row).Error; err != nil {
		return fmt.Errorf("insert audit entry: %w", err)
	}
	return nil
}

// SetupDone tells whether the first admin was created.
func (s *Accounts) SetupDone(ctx context.Context) (bool, error) {
	var n int64
	err := s.db.gorm.WithContext(ctx).Model(&metaRow{}).Where("key = ?", metaSetupCompleted).Count(&n).Error
	return n > 0, err
}

// CompleteSetup records setup and creates the first admin in one transaction; the meta
// row's primary key makes a second setup fail even when two race. Returns
// instance.ErrGone if setup was done before.
func (s *Accounts) CompleteSetup(ctx context.Context, u *accounts.User, a accounts.AuditEntry) error {
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&metaRow{Key: metaSetupCompleted, Value: a.At.Format(time.RFC3339), UpdatedAt: a.At}).Error; err != nil {
			return err
		}
		if err := insertUser(tx, u, a.At); err != nil {
			return err
		}
		a.ActorID, a.ActorEmail, a.TargetID = u.ID, u.Email, fmt.Sprint(u.ID)
		return addAudit(tx, a)
	})
	if errors.Is(err, instance.ErrConflict) {
		return fmt.Errorf("%w: setup is already complete", instance.ErrGone)
	}
	return err
}

func insertUser(tx *gorm.DB, u *accounts.User, at time.Time) error {
	u.CreatedAt, u.UpdatedAt = at, at
	row := toUserRow(*u)
	if err := tx.Create(&row).Error; err != nil {
		return err
	}
	u.ID = row.ID
	return nil
}

// CreateUser inserts u and sets its ID. Returns instance.ErrConflict if the e-mail is
// taken.
func (s *Accounts) CreateUser(ctx context.Context, u *accounts.User, a accounts.AuditEntry) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := insertUser(tx, u, a.At); err != nil {
			return err
		}
		a.TargetID = fmt.Sprint(u.ID)
		return addAudit(tx, a)
	})
}

// UpdateUser saves u. Returns instance.ErrNotFound, or accounts.ErrLastAdmin if no
// active admin would remain.
func (s *Accounts) UpdateUser(ctx context.Context, u *accounts.User, a accounts.AuditEntry) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		u.UpdatedAt = a.At
		res := tx.Model(&userRow{}).Where("id = ?", u.ID).Updates(map[string]any{
			"name": u.Name, "role": string(u.Role), "active": u.Active, "locale": u.Locale, "ticket_scope": u.TicketScope,
			"password_hash": u.PasswordHash, "updated_at": u.UpdatedAt,
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return instance.ErrNotFound
		}
		var admins int64
		if err := tx.Model(&userRow{}).Where("role = ? AND active = ?", accounts.RoleAdmin, true).Count(&admins).Error; err != nil {
			return err
		}
		if admins == 0 {
			return accounts.ErrLastAdmin
		}
		if !u.Active {
			if err := tx.Where("user_id = ?", u.ID).Delete(&sessionRow{}).Error; err != nil {
				return err
			}
		}
		return addAudit(tx, a)
	})
}

// FindUser returns instance.ErrNotFound for an unknown id.
func (s *Accounts) FindUser(ctx context.Context, id int64) (accounts.User, error) {
	var r userRow
	if err := s.db.gorm.WithContext(ctx).First(&r, id).Error; err != nil {
		return accounts.User{}, translate(err)
	}
	return r.domain(), nil
}

// FindUserByEmail returns instance.ErrNotFound for an unknown address.
func (s *Accounts) FindUserByEmail(ctx context.Context, email string) (accounts.User, error) {
	var r userRow
	if err := s.db.gorm.WithContext(ctx).Where("email = ?", email).First(&r).Error; err != nil {
		return accounts.User{}, translate(err)
	}
	return r.domain(), nil
}

// ListUsers returns all users by name.
func (s *Accounts) ListUsers(ctx context.Context) ([]accounts.User, error) {
	var rows []userRow
	if err := s.db.gorm.WithContext(ctx).Order("name, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]accounts.User, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// CreateSession stores a session, records the login time, and drops expired sessions.
func (s *Accounts) CreateSession(ctx context.Context, sess accounts.Session, lastLogin time.Time, a accounts.AuditEntry) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("expires_at < ?", lastLogin).Delete(&sessionRow{}).Error; err != nil {
			return err
		}
		row := sessionRow(sess)
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if err := tx.Model(&userRow{}).Where("id = ?", sess.UserID).Update("last_login_at", lastLogin).Error; err != nil {
			return err
		}
		return addAudit(tx, a)
	})
}

// FindSessionUser returns the user of a live session in one query. Returns
// instance.ErrNotFound for an unknown or expired session.
func (s *Accounts) FindSessionUser(ctx context.Context, hash string, now time.Time) (accounts.User, error) {
	var r userRow
	err := s.db.gorm.WithContext(ctx).Joins("JOIN sessions ON sessions.user_id = users.id").
		Where("sessions.hash = ? AND sessions.expires_at > ?", hash, now).Take(&r).Error
	if err != nil {
		return accounts.User{}, translate(err)
	}
	return r.domain(), nil
}

// DeleteSession removes a session; an absent one is not an error.
func (s *Accounts) DeleteSession(ctx context.Context, hash string, a accounts.AuditEntry) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("hash = ?", hash).Delete(&sessionRow{}).Error; err != nil {
			return err
		}
		return addAudit(tx, a)
	})
}

// DeleteUserSessions removes all of a user's sessions but exceptHash.
func (s *Accounts) DeleteUserSessions(ctx context.Context, userID int64, exceptHash string) error {
	return translate(s.db.gorm.WithContext(ctx).Where("user_id = ? AND hash <> ?", userID, exceptHash).Delete(&sessionRow{}).Error)
}

// CreateToken inserts t and sets its ID.
func (s *Accounts) CreateToken(ctx context.Context, t *accounts.APIToken, a accounts.AuditEntry) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		row := tokenRow{UserID: t.UserID, Name: t.Name, Prefix: t.Prefix, Hash: t.Hash, CreatedAt: t.CreatedAt}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		t.ID = row.ID
		a.TargetID = fmt.Sprint(row.ID)
		return addAudit(tx, a)
	})
}

// tokenUserRow is a token and its user, read in one query.
type tokenUserRow struct {
	TokenID         int64
	TokenName       string
	TokenPrefix     string
	TokenCreatedAt  time.Time
	TokenLastUsedAt *time.Time
	User            userRow `gorm:"embedded"`
}

// FindTokenByHash returns a token and its user in one query. Returns
// instance.ErrNotFound for an unknown token.
func (s *Accounts) FindTokenByHash(ctx context.Context, hash string) (accounts.APIToken, accounts.User, error) {
	var r tokenUserRow
	err := s.db.gorm.WithContext(ctx).Raw(`SELECT api_tokens.id AS token_id, api_tokens.name AS token_name,
		api_tokens.prefix AS token_prefix, api_tokens.created_at AS token_created_at,
		api_tokens.last_used_at AS token_last_used_at, users.*
		FROM api_tokens JOIN users ON users.id = api_tokens.user_id WHERE api_tokens.hash = ?`, hash).Scan(&r).Error
	if err != nil {
		return accounts.APIToken{}, accounts.User{}, translate(err)
	}
	if r.TokenID == 0 {
		return accounts.APIToken{}, accounts.User{}, instance.ErrNotFound
	}
	t := tokenRow{ID: r.TokenID, UserID: r.User.ID, Name: r.TokenName, Prefix: r.TokenPrefix, Hash: hash,
		CreatedAt: r.TokenCreatedAt, LastUsedAt: r.TokenLastUsedAt}
	return t.domain(), r.User.domain(), nil
}

// ListTokens returns a user's tokens, newest first.
func (s *Accounts) ListTokens(ctx context.Context, userID int64) ([]accounts.APIToken, error) {
	var rows []tokenRow
	if err := s.db.gorm.WithContext(ctx).Where("user_id = ?", userID).Order("id DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]accounts.APIToken, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// DeleteToken returns instance.ErrNotFound unless token id belongs to userID.
func (s *Accounts) DeleteToken(ctx context.Context, userID, id int64, a accounts.AuditEntry) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Where("id = ? AND user_id = ?", id, userID).Delete(&tokenRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return instance.ErrNotFound
		}
		return addAudit(tx, a)
	})
}

// TouchToken records when a token was last used.
func (s *Accounts) TouchToken(ctx context.Context, id int64, at time.Time) error {
	return translate(s.db.gorm.WithContext(ctx).Model(&tokenRow{}).Where("id = ?", id).Update("last_used_at", at).Error)
}

// AddAudit appends one entry.
func (s *Accounts) AddAudit(ctx context.Context, a accounts.AuditEntry) error {
	return addAudit(s.db.gorm.WithContext(ctx), a)
}

// ListAudit returns entries newest first.
func (s *Accounts) ListAudit(ctx context.Context, f accounts.AuditFilter) ([]accounts.AuditEntry, error) {
	q := s.db.gorm.WithContext(ctx).Order("id DESC").Limit(f.Limit)
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.ActorID > 0 {
		q = q.Where("actor_id = ?", f.ActorID)
	}
	if f.Before > 0 {
		q = q.Where("id < ?", f.Before)
	}
	var rows []auditRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]accounts.AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = accounts.AuditEntry{ID: r.ID, At: r.At.UTC(), ActorID: r.ActorID, ActorEmail: r.ActorEmail, Action: r.Action,
			TargetType: r.TargetType, TargetID: r.TargetID, Detail: r.Detail, IP: r.IP}
	}
	return out, nil
}
