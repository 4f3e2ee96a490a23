package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/platform/snapshot"
)

// Result is what a restore put in place; `sproudchat restore` prints it as JSON.
type Result struct {
	Tables int   `json:"tables"`
	Rows   int64 `json:"rows"`
	Blobs  int   `json:"blobs"`
	Bytes  int64 `json:"bytes"`
}

// journal records a swap in progress: while it exists, .restore/previous (and, on
// PostgreSQL, .restore/previous.pgdump) holds the data the swap replaced.
type journal struct {
	// State is swapping (some items may be moved), swapped (the new data is in place,
	// not committed) or committing (previous is being deleted: rolling back is over).
	State string `json:"state"`
	// Existed lists the swapped items that were in the data dir before the swap.
	Existed []string `json:"existed"`
}

const (
	stateSwapping   = "swapping"
	stateSwapped    = "swapped"
	stateCommitting = "committing"
)

// items are the data dir entries a swap moves, the database files first.
func (o Options) items() []string {
	if o.postgres() {
		return []string{blobsDir}
	}
	return []string{dbName, dbName + "-wal", dbName + "-shm", blobsDir}
}

// Restore replaces the instance's data with the snapshot read from r. The instance's
// app must not run (the control plane stops it first). An earlier restore that was
// neither committed nor rolled back is rolled back first, so running Restore again
// after a crash converges. The snapshot is staged and checked whole before the first
// change: entry hashes (snapshot.ErrInvalid when one differs, when a header blob is
// missing or the stream is malformed), the schema version against this binary's
// migrations, PRAGMA integrity_check and row counts against the header (ErrRefused).
// A refused snapshot changes nothing. The replaced data is kept until Commit, and
// Rollback puts it back.
func Restore(ctx context.Context, o Options, r io.Reader) (Result, error) {
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return Result{}, fmt.Errorf("create data dir: %w", err)
	}
	if _, err := Rollback(ctx, o); err != nil {
		return Result{}, fmt.Errorf("roll back the earlier restore: %w", err)
	}
	stage := o.path(restoreDir, newDir)
	if err := os.MkdirAll(filepath.Join(stage, blobsDir), 0o700); err != nil {
		return Result{}, fmt.Errorf("create stage: %w", err)
	}
	h, err := o.stage(ctx, r, stage)
	if err == nil {
		err = o.swap(ctx, h, stage)
	}
	if err != nil {
		os.RemoveAll(stage)
		return Result{}, err
	}
	res := Result{Tables: len(h.Rows), Blobs: len(h.Blobs), Bytes: h.Database.Size}
	for _, n := range h.Rows {
		res.Rows += n
	}
	for _, b := range h.Blobs {
		res.Bytes += b.Size
	}
	o.log().InfoContext(ctx, "restore in place; commit or roll back", "tables", res.Tables, "rows", res.Rows, "blobs", res.Blobs)
	return res, nil
}

// stage writes the stream's entries into stage, each checked against the header, and
// checks the staged database (checkStaged). The database comes first in the stream: it
// is checked while the blobs are still arriving. Files are synced behind the writing,
// a few at once, and all of them (and their directories) before stage returns.
func (o Options) stage(ctx context.Context, r io.Reader, stage string) (h snapshot.Header, err error) {
	sr, err := snapshot.NewReader(r)
	if err != nil {
		return snapshot.Header{}, err
	}
	h = sr.Header
	if err := o.checkHeader(h); err != nil {
		return h, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	syncs := newSyncer()
	defer func() {
		if serr := syncs.wait(); err == nil {
			err = serr
		}
	}()
	var checked chan error // the database check's result, once it runs
	defer func() {
		if checked == nil {
			if err == nil {
				err = fmt.Errorf("%w: the stream has no database", snapshot.ErrInvalid)
			}
			return
		}
		if err != nil {
			cancel() // stop the check: its verdict no longer matters
		}
		if cerr := <-checked; err == nil {
			err = cerr
		}
	}()
	dirs := map[string]bool{stage: true}
	for {
		if err := ctx.Err(); err != nil {
			return h, err
		}
		e, cr, err := sr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return h, err
		}
		dst := filepath.Join(stage, dbName)
		switch {
		case e.Kind == snapshot.KindBlob:
			dst = filepath.Join(stage, blobsDir, e.SHA256[:2], e.SHA256[2:4], e.SHA256)
		case h.Dialect == snapshot.DialectPostgres:
			dst = filepath.Join(stage, snapshot.PgDumpName)
		}
		f, err := writeFile(dst, cr)
		if err != nil {
			return h, err
		}
		dirs[filepath.Dir(dst)] = true
		if e.Kind == snapshot.KindDatabase {
			// Checked from the page cache, before it is synced: the data is the same.
			checked = make(chan error, 1)
			go func() { checked <- o.checkStaged(ctx, h, stage) }()
		}
		if err := syncs.add(f); err != nil {
			return h, err
		}
	}
	if missing := sr.Missing(); len(missing) > 0 {
		return h, fmt.Errorf("%w: the stream lacks %d of the header's blobs (the first: %s)", snapshot.ErrInvalid, len(missing), missing[0].SHA256)
	}
	if err := syncs.wait(); err != nil {
		return h, err
	}
	// The files are synced; their directory entries are synced here, once.
	for d := range dirs {
		for ; d != stage && len(d) > len(stage); d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	return h, syncDirs(slices.Collect(maps.Keys(dirs))...)
}

// syncer syncs and closes files, a few at once, while the caller writes the next ones.
type syncer struct {
	files chan *os.File
	done  chan struct{}
	mu    sync.Mutex
	err   error
	once  sync.Once
}

// syncers is how many files are synced at once; as many more wait, open, in the queue.
const syncers = 4

func newSyncer() *syncer {
	s := &syncer{files: make(chan *os.File, syncers), done: make(chan struct{})}
	var wg sync.WaitGroup
	for range syncers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range s.files {
				err := f.Sync()
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					s.mu.Lock()
					if s.err == nil {
						s.err = fmt.Errorf("sync %s: %w", filepath.Base(f.Name()), err)
					}
					s.mu.Unlock()
				}
			}
		}()
	}
	go func() { wg.Wait(); close(s.done) }()
	return s
}

// add queues f (written, open) to be synced and closed; it returns an earlier file's
// failure, if any.
func (s *syncer) add(f *os.File) error {
	s.files <- f
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// wait syncs and closes every file added and returns the first failure. Once called,
// add must not be.
func (s *syncer) wait() error {
	s.once.Do(func() { close(s.files) })
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// checkHeader refuses a snapshot of the other dialect or of a newer schema.
func (o Options) checkHeader(h snapshot.Header) error {
	want := snapshot.DialectSQLite
	if o.postgres() {
		want = snapshot.DialectPostgres
	}
	if h.Dialect != want {
		return fmt.Errorf("%w: the snapshot is of a %s database, this instance uses %s", ErrRefused, h.Dialect, want)
	}
	latest, err := latestVersion(o)
	if err != nil {
		return err
	}
	if h.SchemaVersion > latest {
		return fmt.Errorf("%w: the snapshot was made by a newer sproudchat (schema version %d; this one knows up to %d)", ErrRefused, h.SchemaVersion, latest)
	}
	return nil
}

func latestVersion(o Options) (int64, error) {
	d := store.SQLite
	if o.postgres() {
		d = store.Postgres
	}
	ms, err := store.Migrations(d)
	if err != nil || len(ms) == 0 {
		return 0, fmt.Errorf("read migrations: %w", err)
	}
	return int64(ms[len(ms)-1].Version), nil
}

// checkStaged checks the staged database against the header (SQLite; PostgreSQL's
// dump is checked once restored, see swapPostgres).
func (o Options) checkStaged(ctx context.Context, h snapshot.Header, stage string) error {
	if o.postgres() {
		return checkDump(ctx, o, h, filepath.Join(stage, snapshot.PgDumpName))
	}
	v, rows, err := checkSQLite(ctx, filepath.Join(stage, dbName))
	if err != nil {
		return err
	}
	return compareCounts(h, v, rows)
}

// compareCounts refuses a database whose schema version or row counts differ from
// the header's.
func compareCounts(h snapshot.Header, version int64, rows map[string]int64) error {
	if version != h.SchemaVersion {
		return fmt.Errorf("%w: the database is at schema version %d, its header says %d", ErrRefused, version, h.SchemaVersion)
	}
	if !maps.Equal(rows, h.Rows) {
		names := slices.Sorted(maps.Keys(rows))
		for n := range h.Rows {
			if _, ok := rows[n]; !ok {
				names = append(names, n)
			}
		}
		for _, n := range names {
			got, ok := rows[n]
			want, inHeader := h.Rows[n]
			if !ok || !inHeader || got != want {
				return fmt.Errorf("%w: table %s has %d rows, the header says %d (in database: %v, in header: %v)", ErrRefused, n, got, want, ok, inHeader)
			}
		}
	}
	return nil
}

// swap puts the staged data in place, keeping what it replaces in .restore/previous.
func (o Options) swap(ctx context.Context, h snapshot.Header, stage string) error {
	if o.postgres() {
		return o.swapPostgres(ctx, h, stage)
	}
	j, err := o.beginSwap()
	if err != nil {
		return err
	}
	if err := o.moveNew(stage, []string{dbName, blobsDir}); err != nil {
		return err
	}
	return o.endSwap(j, stage)
}

// beginSwap records the swap and moves the current items into previous.
func (o Options) beginSwap() (journal, error) {
	j := journal{State: stateSwapping}
	for _, it := range o.items() {
		if _, err := os.Lstat(o.path(it)); err == nil {
			j.Existed = append(j.Existed, it)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return j, err
		}
	}
	if err := o.step("journal"); err != nil {
		return j, err
	}
	if err := o.writeJournal(j); err != nil {
		return j, err
	}
	prev := o.path(restoreDir, prevDir)
	if err := os.MkdirAll(prev, 0o700); err != nil {
		return j, err
	}
	for _, it := range j.Existed {
		if err := o.step("previous:" + it); err != nil {
			return j, err
		}
		if err := os.Rename(o.path(it), filepath.Join(prev, it)); err != nil {
			return j, fmt.Errorf("move %s aside: %w", it, err)
		}
	}
	return j, syncDirs(o.DataDir, prev)
}

func (o Options) moveNew(stage string, names []string) error {
	for _, it := range names {
		if err := o.step("new:" + it); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(stage, it), o.path(it)); err != nil {
			return fmt.Errorf("move the restored %s in place: %w", it, err)
		}
	}
	return syncDirs(o.DataDir)
}

func (o Options) endSwap(j journal, stage string) error {
	if err := o.step("swapped"); err != nil {
		return err
	}
	j.State = stateSwapped
	if err := o.writeJournal(j); err != nil {
		return err
	}
	return os.RemoveAll(stage)
}

// Rollback puts back the data the last uncommitted restore replaced, however far that
// restore got. Returns false (and nil) when there was nothing to roll back. Running it
// again after a crash converges.
func Rollback(ctx context.Context, o Options) (bool, error) {
	j, ok, err := o.readJournal()
	if err != nil {
		return false, err
	}
	if ok && j.State == stateCommitting {
		return false, o.finishCommit()
	}
	if !ok {
		// No swap began: whatever a crash left staged is dropped.
		return false, o.cleanup()
	}
	prev := o.path(restoreDir, prevDir)
	for _, it := range o.items() {
		if err := o.step("rollback:" + it); err != nil {
			return false, err
		}
		p := filepath.Join(prev, it)
		if _, err := os.Lstat(p); err == nil {
			if err := os.RemoveAll(o.path(it)); err != nil {
				return false, err
			}
			if err := os.Rename(p, o.path(it)); err != nil {
				return false, fmt.Errorf("put %s back: %w", it, err)
			}
		} else if !slices.Contains(j.Existed, it) {
			// Not there before the swap: the restored item, if it got in place.
			if err := os.RemoveAll(o.path(it)); err != nil {
				return false, err
			}
		}
	}
	if o.postgres() {
		if err := o.step("rollback:database"); err != nil {
			return false, err
		}
		if err := pgRestore(ctx, o, o.path(restoreDir, prevDump)); err != nil {
			return false, fmt.Errorf("put the database back: %w", err)
		}
	}
	if err := syncDirs(o.DataDir); err != nil {
		return false, err
	}
	if err := o.step("rollback:journal"); err != nil {
		return false, err
	}
	if err := os.Remove(o.path(restoreDir, journalName)); err != nil {
		return false, err
	}
	o.log().InfoContext(ctx, "restore rolled back: the previous data is in place")
	return true, o.cleanup()
}

// Commit deletes the data the last restore replaced: it cannot be rolled back any
// more. Returns false (and nil) without a restore to commit. Returns an error when the
// last restore was interrupted mid-swap (run restore again, or roll back).
func Commit(ctx context.Context, o Options) (bool, error) {
	j, ok, err := o.readJournal()
	if err != nil || !ok {
		return false, err
	}
	if j.State == stateSwapping {
		return false, errors.New("commit restore: the last restore was interrupted; run restore again or roll it back")
	}
	j.State = stateCommitting
	if err := o.writeJournal(j); err != nil {
		return false, err
	}
	o.log().InfoContext(ctx, "restore committed: the previous data is deleted")
	return true, o.finishCommit()
}

func (o Options) finishCommit() error {
	if err := os.RemoveAll(o.path(restoreDir, prevDir)); err != nil {
		return err
	}
	if err := os.Remove(o.path(restoreDir, prevDump)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Remove(o.path(restoreDir, journalName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return o.cleanup()
}

// cleanup removes what a restore leaves when no swap is recorded.
func (o Options) cleanup() error {
	for _, p := range []string{newDir, prevDir, prevDump, prevDump + ".tmp", journalName + ".tmp"} {
		if err := os.RemoveAll(o.path(restoreDir, p)); err != nil {
			return err
		}
	}
	return nil
}

func (o Options) readJournal() (journal, bool, error) {
	b, err := os.ReadFile(o.path(restoreDir, journalName))
	if errors.Is(err, fs.ErrNotExist) {
		return journal{}, false, nil
	}
	if err != nil {
		return journal{}, false, err
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return journal{}, false, fmt.Errorf("read restore journal: %w", err)
	}
	for _, it := range j.Existed {
		if !slices.Contains(o.items(), it) {
			return journal{}, false, fmt.Errorf("read restore journal: unknown item %q", it)
		}
	}
	return j, true, nil
}

// writeJournal replaces the journal atomically and durably.
func (o Options) writeJournal(j journal) error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	dir := o.path(restoreDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := filepath.Join(dir, journalName+".tmp")
	if err := writeSynced(tmp, bytes.NewReader(b)); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, journalName)); err != nil {
		return err
	}
	return syncDirs(dir)
}

// writeFile writes r to a new file at path (0600, parents created) and returns it
// open, not synced.
func writeFile(path string, r io.Reader) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return f, nil
}

// writeSynced is writeFile, then syncs and closes the file.
func writeSynced(path string, r io.Reader) error {
	f, err := writeFile(path, r)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDirs(dirs ...string) error {
	for _, d := range dirs {
		f, err := os.Open(d)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("sync %s: %w", d, err)
		}
	}
	return nil
}
