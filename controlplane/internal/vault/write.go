package vault

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/restic/chunker"
	"golang.org/x/sync/errgroup"

	"github.com/sproudstack/sproudchat/platform/snapshot"
)

// writers is how many objects a Write or Read has in flight at once: enough to hide a
// remote target's latency, few enough that memory stays a few MiB per operation.
const writers = 4

// Write stores a snapshot stream as backup backupID of src: each chunk encrypted and
// uploaded unless already stored, the manifest last. Blobs the stream omits are taken
// from backup prevID (empty: none may be omitted). On error no manifest is written;
// the chunks uploaded go at the next Collect. The stream is read once, a chunk at a
// time. Returns ErrKey when the instance's data key exists but the vault cannot open
// it, ErrBusy while another Write or a Collect of the instance runs (try again later),
// snapshot.ErrInvalid for a stream that contradicts itself.
func (v *Vault) Write(ctx context.Context, src Source, backupID, prevID string, stream io.Reader) (Result, error) {
	if err := checkIDs(src.InstanceID, backupID); err != nil {
		return Result{}, err
	}
	id := src.InstanceID
	if len(v.opts.Recipients) == 0 {
		return Result{}, errors.New("write backup: the vault has no recipient to wrap the data key for")
	}
	unlock, err := v.lock(ctx, id, lockWrite, backupID)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	k, err := v.writableKey(ctx, id)
	if err != nil {
		return Result{}, err
	}
	var prev *Manifest
	var prevPieces []Chunk
	if prevID != "" {
		top, pk, err := v.openTop(ctx, id, prevID)
		if err == nil {
			var m Manifest
			m, err = v.manifestOf(ctx, id, prevID, top, pk)
			prev = &m
		}
		if err != nil {
			return Result{}, fmt.Errorf("open previous backup %s: %w", prevID, err)
		}
		prevPieces = top.Pieces
	}
	stored, err := v.storedChunks(ctx, id)
	if err != nil {
		return Result{}, err
	}
	var unsure map[string]int64
	if _, ok := v.opts.Target.(unsyncedTarget); ok {
		// An object the previous manifest (written after a Sync) names is sure to be
		// whole; another may be the torn leftover of a crashed Write — or a whole one an
		// older manifest names, which must not be replaced unflushed: it is read and
		// checked before it is either trusted or written again.
		all := stored
		stored = named(all, prev, prevPieces)
		unsure = map[string]int64{}
		for name, n := range all {
			if _, ok := stored[name]; !ok {
				unsure[name] = n
			}
		}
	}
	sr, err := snapshot.NewReader(stream)
	if err != nil {
		return Result{}, err
	}
	up := &uploader{v: v, k: k, id: id, stored: stored, unsure: unsure, mine: map[string]int64{}}
	files, err := up.files(ctx, sr)
	if err != nil {
		return Result{}, err
	}
	files, err = withOmitted(files, sr, prev, stored)
	if err != nil {
		return Result{}, err
	}
	m := Manifest{Format: 1, BackupID: backupID, InstanceID: id, Slug: src.Slug, Plan: src.Plan, CustomerID: src.CustomerID,
		TakenAt: v.opts.Clock.Now().UTC(), Snapshot: sr.Header, Secrets: src.Secrets, Files: files}
	res := Result{Manifest: m}
	seen := map[string]bool{}
	for fi := range m.Files {
		for ci := range m.Files[fi].Chunks {
			c := &m.Files[fi].Chunks[ci]
			if n, ok := up.mine[c.Key]; ok {
				c.Stored = n
			} else {
				c.Stored = stored[c.Key]
			}
			if !seen[c.Key] {
				seen[c.Key] = true
				res.SizeBytes += c.Stored
				res.Objects++
			}
		}
	}
	pieces, err := up.pieces(ctx, m)
	if err != nil {
		return Result{}, err
	}
	for _, c := range pieces {
		if !seen[c.Key] {
			seen[c.Key] = true
			res.SizeBytes += c.Stored
			res.Objects++
		}
	}
	sealed, err := v.sealTop(k, manifestTop{Format: 1, InstanceID: id, BackupID: backupID, Pieces: pieces})
	if err != nil {
		return Result{}, err
	}
	// Every chunk on disk before the manifest names it.
	if t, ok := v.opts.Target.(unsyncedTarget); ok {
		if err := t.Sync(ctx); err != nil {
			return Result{}, fmt.Errorf("flush chunks: %w", err)
		}
	}
	// The manifest goes last: until it is stored, the backup does not exist.
	if err := v.opts.Target.Put(ctx, manifestKey(id, backupID), sealed); err != nil {
		return Result{}, fmt.Errorf("write manifest: %w", err)
	}
	res.Manifest = m
	res.SizeBytes += int64(len(sealed))
	res.Objects++
	res.AddedBytes = up.added + int64(len(sealed))
	res.AddedObjects = len(up.mine) - up.reused + 1
	return res, nil
}

// intact tells whether the stored object name holds plain, and its stored size.
func (u *uploader) intact(ctx context.Context, name string, plain []byte) (int64, bool) {
	sealed, err := u.v.opts.Target.Get(ctx, chunkKey(u.id, name))
	if err != nil {
		return 0, false
	}
	got, err := u.v.codec.open(sealed, u.k.object, chunkMax)
	if err != nil || !bytes.Equal(got, plain) {
		return 0, false
	}
	return int64(len(sealed)), true
}

// unsyncedTarget is a target whose writes may wait for one flush: Write puts its
// chunks unsynced and syncs once before the manifest (the file target; an S3 PUT is
// durable when it returns).
type unsyncedTarget interface {
	PutUnsynced(ctx context.Context, key string, body []byte) error
	Sync(ctx context.Context) error
}

// named keeps of stored what manifest m names: its files' chunks and its own pieces.
func named(stored map[string]int64, m *Manifest, pieces []Chunk) map[string]int64 {
	out := map[string]int64{}
	keep := func(cs []Chunk) {
		for _, c := range cs {
			if n, ok := stored[c.Key]; ok {
				out[c.Key] = n
			}
		}
	}
	if m != nil {
		for _, f := range m.Files {
			keep(f.Chunks)
		}
	}
	keep(pieces)
	return out
}

// storedChunks lists the chunks instanceID has at the target, with their sizes.
func (v *Vault) storedChunks(ctx context.Context, instanceID string) (map[string]int64, error) {
	objs, err := v.opts.Target.List(ctx, chunkPrefix(instanceID))
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(objs))
	for _, o := range objs {
		out[o.Key[len(chunkPrefix(instanceID)):]] = o.Size
	}
	return out, nil
}

// withOmitted completes files with the blobs the stream omitted, from prev, in the
// header's order: the database, then every blob.
func withOmitted(files []File, sr *snapshot.Reader, prev *Manifest, stored map[string]int64) ([]File, error) {
	missing := sr.Missing()
	if len(missing) == 0 {
		return files, nil
	}
	if prev == nil {
		return nil, fmt.Errorf("%w: the stream omits %d blobs and there is no previous backup to take them from", snapshot.ErrInvalid, len(missing))
	}
	had := map[string]File{}
	for _, f := range prev.Files {
		had[f.Name] = f
	}
	byName := map[string]File{}
	for _, f := range files {
		byName[f.Name] = f
	}
	for _, b := range missing {
		f, ok := had[snapshot.BlobPrefix+b.SHA256]
		if !ok || f.Size != b.Size {
			return nil, fmt.Errorf("%w: the stream omits blob %s, which backup %s does not hold", snapshot.ErrInvalid, b.SHA256, prev.BackupID)
		}
		for _, c := range f.Chunks {
			if _, ok := stored[c.Key]; !ok {
				return nil, fmt.Errorf("blob %s of backup %s: chunk %s: %w", b.SHA256, prev.BackupID, c.Key, ErrMissing)
			}
		}
		byName[f.Name] = f
	}
	out := []File{byName[sr.Header.DatabaseName()]}
	for _, b := range sr.Header.Blobs {
		out = append(out, byName[snapshot.BlobPrefix+b.SHA256])
	}
	return out, nil
}

// uploader chunks entries and uploads what the target does not hold yet, writers at
// a time.
type uploader struct {
	v      *Vault
	k      *dataKey
	id     string
	stored map[string]int64 // at the target before this Write
	unsure map[string]int64 // at the target too, but perhaps torn: checked before use

	mu     sync.Mutex
	mine   map[string]int64 // uploaded (or being uploaded) by this Write
	added  int64
	reused int // of mine: found whole at the target, not uploaded
}

func (u *uploader) files(ctx context.Context, sr *snapshot.Reader) ([]File, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(writers)
	var files []File
	ch := chunker.NewWithBoundaries(nil, u.k.pol, dbChunk.min, chunkMax)
	buf := make([]byte, chunkMax)
	err := func() error {
		for {
			e, body, err := sr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			f := File{Name: e.Name, SHA256: e.SHA256, Size: e.Size}
			if e.Kind == snapshot.KindBlob && e.Size <= chunkMax {
				// One object, named by the blob's checked SHA-256: no chunker, no
				// second hash over it.
				bp := scratch.Get().(*[]byte)
				data, err := whole(body, (*bp)[:e.Size])
				if err != nil {
					scratch.Put(bp)
					return fmt.Errorf("read %s: %w", e.Name, err)
				}
				var sum [32]byte
				hex.Decode(sum[:], []byte(e.SHA256))
				u.addOwned(gctx, g, &f, u.k.nameOf(sum), data, bp)
				files = append(files, f)
				if gctx.Err() != nil {
					return nil // g.Wait says why
				}
				continue
			}
			cfg := blobChunk
			if e.Kind == snapshot.KindDatabase {
				cfg = dbChunk
			}
			ch.ResetWithBoundaries(body, u.k.pol, cfg.min, chunkMax)
			ch.SetAverageBits(cfg.averageBits)
			for {
				c, err := ch.Next(buf)
				if err == io.EOF {
					break
				}
				if err != nil {
					return fmt.Errorf("read %s: %w", e.Name, err)
				}
				u.add(gctx, g, &f, c.Data)
				if gctx.Err() != nil {
					return nil // g.Wait says why
				}
			}
			files = append(files, f)
		}
	}()
	if werr := g.Wait(); werr != nil {
		return nil, werr
	}
	if err != nil {
		return nil, err
	}
	return files, nil
}

// add names a chunk of f and uploads a copy unless it is stored or on its way.
func (u *uploader) add(ctx context.Context, g *errgroup.Group, f *File, data []byte) {
	bp := scratch.Get().(*[]byte)
	u.addOwned(ctx, g, f, u.k.name(data), append((*bp)[:0], data...), bp)
}

// addOwned is add of data held in the scratch buffer bp, which goes back to the pool
// once uploaded (or not needed).
func (u *uploader) addOwned(ctx context.Context, g *errgroup.Group, f *File, name string, data []byte, bp *[]byte) {
	f.Chunks = append(f.Chunks, Chunk{Key: name, Size: int64(len(data))})
	if !u.claim(name) {
		scratch.Put(bp)
		return
	}
	g.Go(func() error {
		defer scratch.Put(bp)
		return u.upload(ctx, name, data)
	})
}

// whole reads an entry of exactly len(buf) bytes, and to its end, where the snapshot
// reader checks its hash.
func whole(body io.Reader, buf []byte) ([]byte, error) {
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, err
	}
	var one [1]byte
	if n, err := body.Read(one[:]); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("entry longer than its header says")
		}
		return nil, err
	}
	return buf, nil
}

// pieces stores m's JSON as chunks of its own, so that what a manifest shares with
// the last one (most of it: the same chunks, the same blobs) is stored once.
func (u *uploader) pieces(ctx context.Context, m Manifest) ([]Chunk, error) {
	plain, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	ch := chunker.NewWithBoundaries(bytes.NewReader(plain), u.k.pol, pieceChunk.min, chunkMax)
	ch.SetAverageBits(pieceChunk.averageBits)
	buf := make([]byte, chunkMax)
	var out []Chunk
	for {
		c, err := ch.Next(buf)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		name := u.k.name(c.Data)
		if u.claim(name) {
			if err := u.upload(ctx, name, c.Data); err != nil {
				return nil, err
			}
		}
		out = append(out, Chunk{Key: name, Size: int64(c.Length), Stored: u.storedSize(name)})
	}
}

func (u *uploader) storedSize(name string) int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	if n, ok := u.mine[name]; ok {
		return n
	}
	return u.stored[name]
}

// claim tells whether name is neither stored nor being uploaded, and marks it.
func (u *uploader) claim(name string) bool {
	if _, ok := u.stored[name]; ok {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.mine[name]; ok {
		return false
	}
	u.mine[name] = 0
	return true
}

func (u *uploader) upload(ctx context.Context, name string, plain []byte) error {
	if _, ok := u.unsure[name]; ok {
		if n, whole := u.intact(ctx, name, plain); whole {
			u.mu.Lock()
			u.mine[name] = n
			u.reused++
			u.mu.Unlock()
			return nil
		}
	}
	sp := sealedScratch.Get().(*[]byte)
	sealed, err := u.v.codec.seal((*sp)[:0], plain, u.k.object)
	if err != nil {
		sealedScratch.Put(sp)
		return err
	}
	// The target holds no reference to sealed once Put returns.
	defer func() { *sp = sealed[:0]; sealedScratch.Put(sp) }()
	put := u.v.opts.Target.Put
	if t, ok := u.v.opts.Target.(unsyncedTarget); ok {
		put = t.PutUnsynced
	}
	if err := put(ctx, chunkKey(u.id, name), sealed); err != nil {
		return fmt.Errorf("upload chunk: %w", err)
	}
	u.mu.Lock()
	u.mine[name] = int64(len(sealed))
	u.added += int64(len(sealed))
	u.mu.Unlock()
	return nil
}
