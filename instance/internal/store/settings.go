package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Settings keeps instance-wide settings as JSON values in the meta table.
type Settings struct{ db *DB }

// NewSettings returns the settings of db.
func NewSettings(db *DB) *Settings { return &Settings{db: db} }

// Get decodes the value of key into v; a missing key leaves v as it is.
func (s *Settings) Get(ctx context.Context, key string, v any) error {
	var r metaRow
	err := s.db.gorm.WithContext(ctx).Where("key = ?", key).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(r.Value), v)
}

// Set stores v under key.
func (s *Settings) Set(ctx context.Context, key string, v any, at time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.db.gorm.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "key"}}, DoUpdates: clause.AssignmentColumns([]string{"value", "updated_at"})}).
		Create(&metaRow{Key: key, Value: string(b), UpdatedAt: at}).Error
}
