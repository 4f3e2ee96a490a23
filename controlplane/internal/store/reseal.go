package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/platform/database"
	"github.com/sproudstack/sproudchat/platform/sealbox"
)

// MigrateWith is Migrate given the secret key, which migration 0003 needs to re-seal
// the secrets older versions stored. Migrate alone fails at 0003 if there are any.
func (db *DB) MigrateWith(ctx context.Context, secretKey []byte) ([]int, error) {
	return db.DB.MigrateWithSteps(ctx, resealSecrets(secretKey))
}

// resealSecrets is migration 0003. Versions before it sealed with AES-256-GCM under the
// secret key itself and no associated data; it re-seals every stored secret with a
// secret.Box (a key derived per place, the value bound to its place), in the
// migration's transaction.
func resealSecrets(key []byte) database.Migration {
	return database.Migration{Version: 3, Name: "reseal_secrets", Step: func(ctx context.Context, tx *gorm.DB) error {
		r, err := newResealer(key)
		if err != nil {
			return err
		}
		var insts []struct {
			ID      string
			Secrets []byte
		}
		if err := tx.Raw("SELECT id, secrets FROM instances WHERE secrets IS NOT NULL").Scan(&insts).Error; err != nil {
			return fmt.Errorf("read instance secrets: %w", err)
		}
		for _, i := range insts {
			sealed, err := r.reseal(i.Secrets, secret.InstanceSecrets(i.ID))
			if err != nil {
				return fmt.Errorf("re-seal secrets of instance %s: %w", i.ID, err)
			}
			if err := tx.Exec("UPDATE instances SET secrets = ? WHERE id = ?", sealed, i.ID).Error; err != nil {
				return fmt.Errorf("re-seal secrets of instance %s: %w", i.ID, err)
			}
		}
		var idems []struct {
			TokenID int64
			Key     string
			Body    string
		}
		if err := tx.Raw("SELECT token_id, key, body FROM idempotency_keys").Scan(&idems).Error; err != nil {
			return fmt.Errorf("read stored responses: %w", err)
		}
		for _, i := range idems {
			old, err := base64.StdEncoding.DecodeString(i.Body)
			if err != nil {
				return fmt.Errorf("re-seal stored response %d/%s: %w", i.TokenID, i.Key, err)
			}
			sealed, err := r.reseal(old, secret.IdempotentBody(i.TokenID, i.Key))
			if err != nil {
				return fmt.Errorf("re-seal stored response %d/%s: %w", i.TokenID, i.Key, err)
			}
			if err := tx.Exec("UPDATE idempotency_keys SET body = ? WHERE token_id = ? AND key = ?",
				base64.StdEncoding.EncodeToString(sealed), i.TokenID, i.Key).Error; err != nil {
				return fmt.Errorf("re-seal stored response %d/%s: %w", i.TokenID, i.Key, err)
			}
		}
		var hooks []struct {
			ID          int64
			URL, Secret []byte
		}
		if err := tx.Raw("SELECT id, url, secret FROM webhooks").Scan(&hooks).Error; err != nil {
			return fmt.Errorf("read webhooks: %w", err)
		}
		for _, h := range hooks {
			url, err := r.reseal(h.URL, secret.WebhookURL)
			if err != nil {
				return fmt.Errorf("re-seal URL of webhook %d: %w", h.ID, err)
			}
			sec, err := r.reseal(h.Secret, secret.WebhookSecret)
			if err != nil {
				return fmt.Errorf("re-seal secret of webhook %d: %w", h.ID, err)
			}
			if err := tx.Exec("UPDATE webhooks SET url = ?, secret = ? WHERE id = ?", url, sec, h.ID).Error; err != nil {
				return fmt.Errorf("re-seal webhook %d: %w", h.ID, err)
			}
		}
		return nil
	}}
}

// errNoKey: Migrate was called without the key on a database holding sealed secrets.
var errNoKey = errors.New("stored secrets must be re-sealed, which needs the secret key: start `sproudctl serve` once to migrate")

type resealer struct {
	key []byte
	box *secret.Box
}

func newResealer(key []byte) (resealer, error) {
	if key == nil {
		return resealer{}, nil
	}
	box, err := secret.New(key)
	if err != nil {
		return resealer{}, err
	}
	return resealer{key: key, box: box}, nil
}

func (r resealer) reseal(old []byte, p sealbox.Place) ([]byte, error) {
	if r.box == nil {
		return nil, errNoKey
	}
	plain, err := sealbox.OpenLegacy(r.key, old, nil)
	if err != nil {
		return nil, err
	}
	return r.box.Seal(plain, p), nil
}
