package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// manifestTop is what manifests/<backup>.age holds: the pieces the Manifest's JSON is
// cut into, stored as chunks, so consecutive backups share most of their manifests.
type manifestTop struct {
	Format     int     `json:"format"`
	InstanceID string  `json:"instance_id"`
	BackupID   string  `json:"backup_id"`
	Pieces     []Chunk `json:"pieces"`
}

func (v *Vault) sealTop(k *dataKey, top manifestTop) ([]byte, error) {
	plain, err := json.Marshal(top)
	if err != nil {
		return nil, err
	}
	return v.codec.seal(plain, k.recipient)
}

// open reads and checks a backup's manifest and the data key it is sealed with.
// Errors as Manifest.
func (v *Vault) open(ctx context.Context, instanceID, backupID string) (Manifest, *dataKey, error) {
	top, k, err := v.openTop(ctx, instanceID, backupID)
	if err != nil {
		return Manifest{}, nil, err
	}
	var plain bytes.Buffer
	err = v.fetchInOrder(ctx, instanceID, k, top.Pieces, func(b []byte) error {
		if plain.Len()+len(b) > maxManifest {
			return fmt.Errorf("manifest of backup %s is over %d bytes: %w", backupID, maxManifest, ErrTampered)
		}
		plain.Write(b)
		return nil
	})
	if err != nil {
		return Manifest{}, nil, fmt.Errorf("manifest of backup %s: %w", backupID, err)
	}
	var m Manifest
	if err := json.Unmarshal(plain.Bytes(), &m); err != nil || m.Format != 1 {
		return Manifest{}, nil, fmt.Errorf("manifest of backup %s: not a manifest: %w", backupID, ErrTampered)
	}
	if m.InstanceID != instanceID {
		return Manifest{}, nil, fmt.Errorf("backup %s at %s is instance %s's: %w", backupID, instanceID, m.InstanceID, ErrForeign)
	}
	if m.BackupID != backupID {
		return Manifest{}, nil, fmt.Errorf("manifest %s says it is backup %s: %w", backupID, m.BackupID, ErrTampered)
	}
	return m, k, nil
}

// openTop reads a manifest's top object and the data key that opens it.
func (v *Vault) openTop(ctx context.Context, instanceID, backupID string) (manifestTop, *dataKey, error) {
	if err := checkIDs(instanceID, backupID); err != nil {
		return manifestTop{}, nil, err
	}
	sealed, err := v.opts.Target.Get(ctx, manifestKey(instanceID, backupID))
	if err != nil {
		return manifestTop{}, nil, fmt.Errorf("backup %s of %s: %w", backupID, instanceID, err)
	}
	k, _, err := v.openKey(ctx, instanceID)
	if errors.Is(err, ErrNotFound) {
		return manifestTop{}, nil, fmt.Errorf("backup %s of %s: the data key is gone: %w", backupID, instanceID, ErrMissing)
	}
	if err != nil {
		return manifestTop{}, nil, err
	}
	plain, err := v.codec.open(sealed, k.identity, maxTop)
	if errors.Is(err, ErrKey) {
		return manifestTop{}, nil, fmt.Errorf("manifest of backup %s is not sealed with %s's data key: %w", backupID, instanceID, ErrKey)
	}
	if err != nil {
		return manifestTop{}, nil, fmt.Errorf("manifest of backup %s: %w", backupID, err)
	}
	var top manifestTop
	if err := json.NewDecoder(io.LimitReader(bytes.NewReader(plain), maxTop)).Decode(&top); err != nil || top.Format != 1 {
		return manifestTop{}, nil, fmt.Errorf("manifest of backup %s: not a manifest: %w", backupID, ErrTampered)
	}
	if top.InstanceID != instanceID {
		return manifestTop{}, nil, fmt.Errorf("backup %s at %s is instance %s's: %w", backupID, instanceID, top.InstanceID, ErrForeign)
	}
	if top.BackupID != backupID {
		return manifestTop{}, nil, fmt.Errorf("manifest %s says it is backup %s: %w", backupID, top.BackupID, ErrTampered)
	}
	return top, k, nil
}
