package store

import (
	"context"
	"strings"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
)

type tokenRow struct {
	ID         int64 `gorm:"primaryKey"`
	Name       string
	Hash       string
	Scopes     string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

func (tokenRow) TableName() string { return "api_tokens" }

func (r tokenRow) domain() lifecycle.Token {
	return lifecycle.Token{ID: r.ID, Name: r.Name, Hash: r.Hash, Scopes: strings.Split(r.Scopes, ","), CreatedAt: r.CreatedAt.UTC(),
		LastUsedAt: utc(r.LastUsedAt), RevokedAt: utc(r.RevokedAt)}
}

// CreateToken stores t and sets its ID.
func (s *Store) CreateToken(ctx context.Context, t *lifecycle.Token) error {
	row := tokenRow{Name: t.Name, Hash: t.Hash, Scopes: strings.Join(t.Scopes, ","), CreatedAt: t.CreatedAt}
	if err := s.db.gorm.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err)
	}
	t.ID = row.ID
	return nil
}

// FindTokenByHash returns a live (not revoked) token. Returns lifecycle.ErrNotFound.
func (s *Store) FindTokenByHash(ctx context.Context, hash string) (lifecycle.Token, error) {
	var r tokenRow
	if err := s.db.gorm.WithContext(ctx).Where("hash = ? AND revoked_at IS NULL", hash).Take(&r).Error; err != nil {
		return lifecycle.Token{}, translate(err)
	}
	return r.domain(), nil
}

// TouchToken records a use, at most a write an hour per token (the caller checks).
func (s *Store) TouchToken(ctx context.Context, id int64, at time.Time) error {
	return s.db.gorm.WithContext(ctx).Model(&tokenRow{}).Where("id = ?", id).Update("last_used_at", at).Error
}

// ListTokens returns every token, revoked ones too.
func (s *Store) ListTokens(ctx context.Context) ([]lifecycle.Token, error) {
	var rows []tokenRow
	if err := s.db.gorm.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]lifecycle.Token, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// RevokeToken revokes a live token. Returns lifecycle.ErrNotFound.
func (s *Store) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	res := s.db.gorm.WithContext(ctx).Model(&tokenRow{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", at)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return lifecycle.ErrNotFound
	}
	return nil
}
