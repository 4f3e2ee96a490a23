package vault

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// tmpPrefix marks a file target's half-written objects; List never shows them.
const tmpPrefix = ".tmp-"

// FileTarget stores objects as files under a directory: each Put writes a temporary
// file, syncs it and renames it into place, so a crash leaves the old object or the new
// one.
type FileTarget struct{ root string }

// NewFileTarget returns a target in dir, creating it (0700) when absent.
func NewFileTarget(dir string) (*FileTarget, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("backup target %q: the directory must be absolute", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create backup directory: %w", err)
	}
	return &FileTarget{root: filepath.Clean(dir)}, nil
}

func (f *FileTarget) path(key string) (string, error) {
	if !validKey(key) {
		return "", fmt.Errorf("invalid object key %q", key)
	}
	return filepath.Join(f.root, filepath.FromSlash(key)), nil
}

// Put implements Target: the object is on disk when Put returns.
func (f *FileTarget) Put(ctx context.Context, key string, body []byte) error {
	return f.put(ctx, key, body, true)
}

// PutUnsynced writes an object that reaches the disk only with the next Sync: a
// backup's thousands of chunks cost one flush of the filesystem instead of two fsyncs
// each. Until Sync returns, a crash may leave such an object torn, so the vault trusts
// an object written this way only once a manifest (written after Sync) names it.
func (f *FileTarget) PutUnsynced(ctx context.Context, key string, body []byte) error {
	return f.put(ctx, key, body, false)
}

// Sync flushes every object written so far to disk (the whole filesystem the target
// lives on, in one call where the system has one).
func (f *FileTarget) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return syncTree(f.root)
}

func (f *FileTarget) put(ctx context.Context, key string, body []byte, durable bool) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return fmt.Errorf("put %s: %w", key, err)
	}
	if durable {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return fmt.Errorf("put %s: %w", key, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if !durable {
		return nil
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Get implements Target.
func (f *FileTarget) Get(ctx context.Context, key string) ([]byte, error) {
	p, err := f.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return b, nil
}

// Exists implements Target.
func (f *FileTarget) Exists(ctx context.Context, key string) (bool, error) {
	p, err := f.path(key)
	if err != nil {
		return false, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", key, err)
	}
	return fi.Mode().IsRegular(), nil
}

// Delete implements Target. Directories it leaves empty go too, up to the root.
func (f *FileTarget) Delete(ctx context.Context, key string) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	for d := filepath.Dir(p); d != f.root && strings.HasPrefix(d, f.root); d = filepath.Dir(d) {
		if os.Remove(d) != nil { // not empty (or gone): stop
			break
		}
	}
	return nil
}

// Sweep removes the half-written objects (temporary files) under prefix that a
// process killed during a Put left, except those under keep (a prefix; "" keeps
// none), and the directories it empties. Returns how many it removed. Only a caller
// that knows no Put under prefix runs (outside keep) may call it.
func (f *FileTarget) Sweep(ctx context.Context, prefix, keep string) (int, error) {
	if !validKey(strings.TrimSuffix(prefix, "/")) {
		return 0, fmt.Errorf("invalid object prefix %q", prefix)
	}
	start := filepath.Join(f.root, filepath.FromSlash(prefix))
	n := 0
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(d.Name(), tmpPrefix) {
			return nil
		}
		rel, err := filepath.Rel(f.root, filepath.Dir(p))
		if err != nil {
			return err
		}
		if keep != "" && strings.HasPrefix(filepath.ToSlash(rel)+"/", keep) {
			return nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sweep %s: %w", p, err)
		}
		n++
		for dir := filepath.Dir(p); dir != f.root && strings.HasPrefix(dir, f.root); dir = filepath.Dir(dir) {
			if os.Remove(dir) != nil { // not empty (or gone): stop
				break
			}
		}
		return nil
	})
	return n, err
}

// List implements Target: every object whose key starts with prefix, sorted by key.
func (f *FileTarget) List(ctx context.Context, prefix string) ([]Object, error) {
	// Walk only the directory the prefix is inside of.
	start := f.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(f.root, filepath.FromSlash(prefix[:i]))
	}
	var out []Object
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), tmpPrefix) {
			return nil
		}
		rel, err := filepath.Rel(f.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted while we walked
		}
		if err != nil {
			return err
		}
		out = append(out, Object{Key: key, Size: fi.Size(), Modified: fi.ModTime().UTC()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
