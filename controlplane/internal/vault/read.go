package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/sproudstack/sproudchat/platform/snapshot"
)

// Manifest opens and checks backup backupID of instanceID. Returns ErrNotFound when
// there is no such backup, ErrKey when the vault's identities do not open it,
// ErrForeign when it is another instance's, ErrMissing when its data key is gone,
// ErrTampered when it was altered.
func (v *Vault) Manifest(ctx context.Context, instanceID, backupID string) (Manifest, error) {
	m, _, err := v.open(ctx, instanceID, backupID)
	return m, err
}

// Known lists the SHA-256 of every blob backup backupID holds: `sproudchat backup
// --known -` omits them from its stream and Write takes them from that backup. Errors
// as Manifest.
func (v *Vault) Known(ctx context.Context, instanceID, backupID string) ([]string, error) {
	m, err := v.Manifest(ctx, instanceID, backupID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range m.Files {
		if sha, ok := strings.CutPrefix(f.Name, snapshot.BlobPrefix); ok {
			out = append(out, sha)
		}
	}
	return out, nil
}

// Read writes backup backupID of instanceID as a snapshot stream carrying every blob,
// for `sproudchat restore --from -`. Before it writes a byte it checks the manifest
// (errors as Manifest) and that every object it lists exists with the size it
// recorded (else ErrMissing, or ErrTampered for another size): a backup that is
// incomplete writes nothing. It then streams, reading every object once and checking
// each as it goes: an altered object stops the stream with ErrTampered, part of it
// written. Such a stream is not whole (its last entry is cut short), so `sproudchat
// restore`, which stages and checks everything before it changes anything, refuses it
// and changes nothing; `sproudctl backup extract` deletes its output. Memory stays a few
// chunks, whatever the backup's size.
func (v *Vault) Read(ctx context.Context, instanceID, backupID string, w io.Writer) (Manifest, error) {
	m, k, err := v.open(ctx, instanceID, backupID)
	if err != nil {
		return Manifest{}, err
	}
	stored, err := v.storedChunks(ctx, instanceID)
	if err != nil {
		return Manifest{}, err
	}
	for _, f := range m.Files {
		for _, c := range f.Chunks {
			n, ok := stored[c.Key]
			if !ok {
				return Manifest{}, fmt.Errorf("%s chunk %s: %w", f.Name, c.Key, ErrMissing)
			}
			if n != c.Stored {
				return Manifest{}, fmt.Errorf("%s chunk %s has %d bytes, the manifest says %d: %w", f.Name, c.Key, n, c.Stored, ErrTampered)
			}
		}
	}
	if err := v.stream(ctx, instanceID, k, m, w); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// stream writes m's snapshot stream to w.
func (v *Vault) stream(ctx context.Context, instanceID string, k *dataKey, m Manifest, w io.Writer) error {
	if len(m.Files) == 0 || m.Files[0].Name != m.Snapshot.DatabaseName() {
		return fmt.Errorf("manifest of backup %s lists no database first: %w", m.BackupID, ErrTampered)
	}
	var all []Chunk
	for _, f := range m.Files {
		all = append(all, f.Chunks...)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	feed := make(chan []byte)
	var feedErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		feedErr = v.fetchInOrder(ctx, instanceID, k, all, func(b []byte) error {
			select {
			case feed <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		close(feed)
	}()
	err := func() error {
		sw, err := snapshot.NewWriter(w, m.Snapshot)
		if err != nil {
			return err
		}
		for i, f := range m.Files {
			r := &fileReader{feed: feed, feedErr: func() error { <-done; return feedErr }, f: f, left: f.Size, h: sha256.New()}
			if i == 0 {
				err = sw.Database(r)
			} else {
				err = sw.Blob(strings.TrimPrefix(f.Name, snapshot.BlobPrefix), r)
			}
			if err == nil {
				err = r.finish()
			}
			if err != nil {
				return err
			}
		}
		return sw.Close()
	}()
	cancel()
	<-done
	if err != nil && feedErr != nil && !errors.Is(feedErr, context.Canceled) {
		return feedErr // the cause, rather than the writer's view of it
	}
	return err
}

// fileReader reads one file's chunks off the feed and checks the file's hash.
type fileReader struct {
	feed    <-chan []byte
	feedErr func() error
	f       File
	cur     []byte
	left    int64
	h       hash.Hash
}

func (r *fileReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if len(r.cur) == 0 {
		b, ok := <-r.feed
		if !ok {
			if err := r.feedErr(); err != nil {
				return 0, err
			}
			return 0, fmt.Errorf("%s ends early: %w", r.f.Name, ErrTampered)
		}
		r.cur = b
	}
	n := copy(p, r.cur)
	if int64(n) > r.left {
		return 0, fmt.Errorf("%s is longer than the manifest says: %w", r.f.Name, ErrTampered)
	}
	r.h.Write(p[:n])
	r.cur = r.cur[n:]
	r.left -= int64(n)
	return n, nil
}

func (r *fileReader) finish() error {
	if len(r.cur) != 0 || hex.EncodeToString(r.h.Sum(nil)) != r.f.SHA256 {
		return fmt.Errorf("%s does not match its SHA-256: %w", r.f.Name, ErrTampered)
	}
	return nil
}

// fetchInOrder gets, opens and checks chunks, writers at a time, and hands each to use
// in order.
func (v *Vault) fetchInOrder(ctx context.Context, instanceID string, k *dataKey, chunks []Chunk, use func([]byte) error) error {
	g, gctx := errgroup.WithContext(ctx)
	slots := make(chan chan []byte, writers)
	g.Go(func() error {
		defer close(slots)
		for _, c := range chunks {
			out := make(chan []byte, 1)
			select {
			case slots <- out:
			case <-gctx.Done():
				return nil
			}
			g.Go(func() error {
				b, err := v.fetch(gctx, instanceID, k, c)
				if err != nil {
					return err
				}
				out <- b
				return nil
			})
		}
		return nil
	})
	g.Go(func() error {
		for out := range slots {
			select {
			case b := <-out:
				if err := use(b); err != nil {
					return err
				}
			case <-gctx.Done():
				return nil
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// fetch gets one chunk and checks it is what the manifest names.
func (v *Vault) fetch(ctx context.Context, instanceID string, k *dataKey, c Chunk) ([]byte, error) {
	sealed, err := v.opts.Target.Get(ctx, chunkKey(instanceID, c.Key))
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("chunk %s: %w", c.Key, ErrMissing)
	}
	if err != nil {
		return nil, err
	}
	plain, err := v.codec.open(sealed, k.object, chunkMax)
	if errors.Is(err, ErrKey) {
		// A chunk sealed for another key is an altered backup: the manifest is ours.
		return nil, fmt.Errorf("chunk %s is sealed for another key: %w", c.Key, ErrTampered)
	}
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", c.Key, err)
	}
	if err := checkChunk(k, c, plain); err != nil {
		return nil, err
	}
	return plain, nil
}
