package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	return v.codec.seal(nil, plain, k.object)
}

// open reads and checks a backup's manifest and the data key it is sealed with.
// Errors as Manifest.
func (v *Vault) open(ctx context.Context, instanceID, backupID string) (Manifest, *dataKey, error) {
	top, k, err := v.openTop(ctx, instanceID, backupID)
	if err != nil {
		return Manifest{}, nil, err
	}
	m, err := v.manifestOf(ctx, instanceID, backupID, top, k)
	return m, k, err
}

// manifestOf reads and checks the manifest whose top object openTop returned.
func (v *Vault) manifestOf(ctx context.Context, instanceID, backupID string, top manifestTop, k *dataKey) (Manifest, error) {
	var plain bytes.Buffer
	err := v.fetchInOrder(ctx, instanceID, k, top.Pieces, func(b []byte) error {
		if plain.Len()+len(b) > maxManifest {
			return fmt.Errorf("manifest of backup %s is over %d bytes: %w", backupID, maxManifest, ErrTampered)
		}
		plain.Write(b)
		return nil
	})
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest of backup %s: %w", backupID, err)
	}
	var m Manifest
	if err := json.Unmarshal(plain.Bytes(), &m); err != nil {
		return Manifest{}, fmt.Errorf("manifest of backup %s: not a manifest: %w", backupID, ErrTampered)
	}
	if err := checkManifest(instanceID, backupID, m.Format, m.InstanceID, m.BackupID); err != nil {
		return Manifest{}, err
	}
	return m, nil
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
	plain, err := v.codec.open(sealed, k.object, maxTop)
	if errors.Is(err, ErrKey) {
		return manifestTop{}, nil, fmt.Errorf("manifest of backup %s is not sealed with %s's data key: %w", backupID, instanceID, ErrKey)
	}
	if err != nil {
		return manifestTop{}, nil, fmt.Errorf("manifest of backup %s: %w", backupID, err)
	}
	var top manifestTop
	if err := json.Unmarshal(plain, &top); err != nil {
		return manifestTop{}, nil, fmt.Errorf("manifest of backup %s: not a manifest: %w", backupID, ErrTampered)
	}
	if err := checkManifest(instanceID, backupID, top.Format, top.InstanceID, top.BackupID); err != nil {
		return manifestTop{}, nil, err
	}
	return top, k, nil
}

// checkManifest tells whether what a manifest says it is matches where it was found:
// ErrForeign for another instance's, ErrTampered for another backup's or an unknown
// format.
func checkManifest(instanceID, backupID string, format int, saysInstance, saysBackup string) error {
	switch {
	case format != 1:
		return fmt.Errorf("manifest of backup %s: format %d, this build reads 1: %w", backupID, format, ErrTampered)
	case saysInstance != instanceID:
		return fmt.Errorf("backup %s at %s is instance %s's: %w", backupID, instanceID, saysInstance, ErrForeign)
	case saysBackup != backupID:
		return fmt.Errorf("manifest %s says it is backup %s: %w", backupID, saysBackup, ErrTampered)
	}
	return nil
}
