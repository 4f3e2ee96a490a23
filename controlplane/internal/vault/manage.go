package vault

import (
	"context"
	"fmt"
	"strings"
)

// Delete removes a backup's manifest; its chunks go at the next Collect. A backup
// already gone is success.
func (v *Vault) Delete(ctx context.Context, instanceID, backupID string) error {
	if err := checkIDs(instanceID, backupID); err != nil {
		return err
	}
	return v.opts.Target.Delete(ctx, manifestKey(instanceID, backupID))
}

// Collect deletes every chunk of instanceID that no manifest references. It deletes
// nothing unless it could open every manifest (errors as Manifest). Returns ErrBusy
// while a Write of the instance runs (the chunks it counts on as stored must stay).
func (v *Vault) Collect(ctx context.Context, instanceID string) (objects int, bytes int64, err error) {
	if err := checkIDs(instanceID); err != nil {
		return 0, 0, err
	}
	unlock, err := v.lock(ctx, instanceID, lockCollect, randomName())
	if err != nil {
		return 0, 0, err
	}
	defer unlock()
	// No Write of the instance runs (the lock): its half-written objects are a killed
	// process's (a lock of another operation may be being written).
	if sw, ok := v.opts.Target.(sweeper); ok {
		if _, err := sw.Sweep(ctx, instancePrefix(instanceID), lockPrefix(instanceID)); err != nil {
			return 0, 0, err
		}
	}
	stored, err := v.storedChunks(ctx, instanceID)
	if err != nil {
		return 0, 0, err
	}
	manifests, err := v.opts.Target.List(ctx, manifestPrefix(instanceID))
	if err != nil {
		return 0, 0, err
	}
	for _, o := range manifests {
		backupID, ok := strings.CutSuffix(o.Key[len(manifestPrefix(instanceID)):], ".age")
		if !ok {
			continue
		}
		top, _, err := v.openTop(ctx, instanceID, backupID)
		if err != nil {
			return 0, 0, fmt.Errorf("collect %s: %w", instanceID, err)
		}
		for _, c := range top.Pieces {
			delete(stored, c.Key)
		}
		m, err := v.Manifest(ctx, instanceID, backupID)
		if err != nil {
			return 0, 0, fmt.Errorf("collect %s: %w", instanceID, err)
		}
		for _, f := range m.Files {
			for _, c := range f.Chunks {
				delete(stored, c.Key)
			}
		}
	}
	for name, size := range stored {
		if err := v.opts.Target.Delete(ctx, chunkKey(instanceID, name)); err != nil {
			return objects, bytes, err
		}
		objects++
		bytes += size
	}
	return objects, bytes, nil
}

// Purge deletes every object of instanceID, its data key included: nothing of the
// instance can be read afterwards, by any identity.
func (v *Vault) Purge(ctx context.Context, instanceID string) error {
	if err := checkIDs(instanceID); err != nil {
		return err
	}
	objs, err := v.opts.Target.List(ctx, instancePrefix(instanceID))
	if err != nil {
		return err
	}
	// Manifests and the key first: a Purge cut short leaves no backup that half opens.
	var rest []string
	for _, o := range objs {
		if strings.HasPrefix(o.Key, manifestPrefix(instanceID)) {
			if err := v.opts.Target.Delete(ctx, o.Key); err != nil {
				return err
			}
		} else if o.Key != keyKey(instanceID) {
			rest = append(rest, o.Key)
		}
	}
	if err := v.opts.Target.Delete(ctx, keyKey(instanceID)); err != nil {
		return err
	}
	for _, k := range rest {
		if err := v.opts.Target.Delete(ctx, k); err != nil {
			return err
		}
	}
	if sw, ok := v.opts.Target.(sweeper); ok {
		if _, err := sw.Sweep(ctx, instancePrefix(instanceID), ""); err != nil {
			return err
		}
	}
	return nil
}

// sweeper is a Target that can hold half-written objects a killed process left
// (FileTarget's temporary files); S3 puts whole objects or nothing.
type sweeper interface {
	Sweep(ctx context.Context, prefix, keep string) (int, error)
}

// Usage is the bytes stored for instanceID.
func (v *Vault) Usage(ctx context.Context, instanceID string) (int64, error) {
	if err := checkIDs(instanceID); err != nil {
		return 0, err
	}
	objs, err := v.opts.Target.List(ctx, instancePrefix(instanceID))
	if err != nil {
		return 0, err
	}
	var n int64
	for _, o := range objs {
		n += o.Size
	}
	return n, nil
}

// Scan lists the backups at the target without opening them (recovery), by instance
// and backup id.
func (v *Vault) Scan(ctx context.Context) ([]Found, error) {
	objs, err := v.opts.Target.List(ctx, "instances/")
	if err != nil {
		return nil, err
	}
	var out []Found
	for _, o := range objs {
		parts := strings.Split(o.Key, "/")
		if len(parts) != 4 || parts[2] != "manifests" || !strings.HasSuffix(parts[3], ".age") {
			continue
		}
		out = append(out, Found{InstanceID: parts[1], BackupID: strings.TrimSuffix(parts[3], ".age"), Modified: o.Modified})
	}
	return out, nil
}
