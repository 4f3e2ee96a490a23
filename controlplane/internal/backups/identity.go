package backups

import (
	"context"
	"errors"
	"fmt"

	"filippo.io/age"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/platform/sealbox"
)

// IdentityStore keeps the control plane's backup identity, sealed (store.Store).
type IdentityStore interface {
	// BackupIdentity returns the sealed identity; lifecycle.ErrNotFound before the first.
	BackupIdentity(ctx context.Context) ([]byte, error)
	// PutBackupIdentity stores the first one; lifecycle.ErrConflict when one exists.
	PutBackupIdentity(ctx context.Context, sealed []byte) error
}

// Sealer seals and opens values bound to their place (secret.Box).
type Sealer interface {
	Seal(plaintext []byte, p sealbox.Place) []byte
	Open(sealed []byte, p sealbox.Place) ([]byte, error)
}

// Identity returns the control plane's own age identity, which every instance's data
// key is wrapped for: generated once, on the first start, and kept sealed in the store.
// Concurrent first starts agree on one (the store keeps the first written).
func Identity(ctx context.Context, s IdentityStore, box Sealer) (*age.X25519Identity, error) {
	for range 2 {
		sealed, err := s.BackupIdentity(ctx)
		if err == nil {
			raw, err := box.Open(sealed, secret.BackupIdentity)
			if err != nil {
				return nil, fmt.Errorf("open the backup identity (is this the control plane's secret key?): %w", err)
			}
			id, err := age.ParseX25519Identity(string(raw))
			if err != nil {
				return nil, fmt.Errorf("parse the backup identity: %w", err)
			}
			return id, nil
		}
		if !errors.Is(err, lifecycle.ErrNotFound) {
			return nil, fmt.Errorf("read the backup identity: %w", err)
		}
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return nil, fmt.Errorf("generate the backup identity: %w", err)
		}
		err = s.PutBackupIdentity(ctx, box.Seal([]byte(id.String()), secret.BackupIdentity))
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, lifecycle.ErrConflict) {
			return nil, fmt.Errorf("store the backup identity: %w", err)
		}
	}
	return nil, errors.New("store the backup identity: it keeps changing")
}
