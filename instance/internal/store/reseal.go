package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/sproudstack/sproudchat/instance/internal/notify"
	"github.com/sproudstack/sproudchat/platform/database"
	"github.com/sproudstack/sproudchat/platform/sealbox"
)

// MigrateWith is Migrate given the instance's secret key, which migration 0015 needs to
// re-seal the notification targets older versions stored. Migrate alone fails at 0015
// if there are any.
func (db *DB) MigrateWith(ctx context.Context, secretKey []byte) ([]int, error) {
	return db.DB.MigrateWithSteps(ctx, resealTargets(secretKey))
}

// resealTargets is migration 0015. Versions before it sealed a notification target's
// config under HMAC-SHA256(secret key, "sproudchat notification targets v1") with the
// associated data "notify_target"; it re-seals each with the platform's sealbox at
// notify.TargetPlace, in the migration's transaction.
func resealTargets(secretKey []byte) database.Migration {
	return database.Migration{Version: 15, Name: "reseal_notify_targets", Step: func(ctx context.Context, tx *gorm.DB) error {
		var rows []struct {
			ID           int64
			ConfigSealed []byte
		}
		if err := tx.Raw("SELECT id, config_sealed FROM notify_targets").Scan(&rows).Error; err != nil {
			return fmt.Errorf("read notification targets: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		if secretKey == nil {
			return errors.New("notification targets must be re-sealed, which needs the secret key: start sproudchat to migrate")
		}
		box, err := notify.NewSealer(secretKey)
		if err != nil {
			return err
		}
		m := hmac.New(sha256.New, secretKey)
		m.Write([]byte("sproudchat notification targets v1"))
		legacyKey := m.Sum(nil)
		for _, r := range rows {
			plain, err := sealbox.OpenLegacy(legacyKey, r.ConfigSealed, []byte("notify_target"))
			if err != nil {
				return fmt.Errorf("re-seal notification target %d: %w", r.ID, err)
			}
			if err := tx.Exec("UPDATE notify_targets SET config_sealed = ? WHERE id = ?", box.Seal(plain, notify.TargetPlace), r.ID).Error; err != nil {
				return fmt.Errorf("re-seal notification target %d: %w", r.ID, err)
			}
		}
		return nil
	}}
}
