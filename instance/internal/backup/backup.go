// Package backup is `sproudchat backup` and `sproudchat restore`: it takes a consistent
// snapshot of a running instance's data (database and attachment blobs) as a
// platform/snapshot stream, and puts such a stream back in place of an instance's data
// with every check before the first change and a journaled, crash-safe swap.
//
// The data dir holds, besides the instance's own files:
//
//	.backup/              temporary copies of one backup (removed when it ends, or by
//	                      the next backup when its process died)
//	.restore/new/         the staged data of a restore in progress
//	.restore/previous/    the data a restore replaced, until --commit or --rollback
//	.restore/journal.json present from the first change of a swap until commit/rollback
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/platform/snapshot"
)

// Names inside the data dir.
const (
	dbName      = "sproudchat.db"
	blobsDir    = "attachments"
	backupDir   = ".backup"
	restoreDir  = ".restore"
	newDir      = "new"
	prevDir     = "previous"
	journalName = "journal.json"
	prevDump    = "previous.pgdump"
)

// ErrRefused: the snapshot is readable but must not replace this instance's data (a
// newer schema, a damaged database, counts that differ from its header). Nothing was
// changed.
var ErrRefused = errors.New("restore refused")

// ErrNoData: the data dir has no database to back up.
var ErrNoData = errors.New("no database")

// Options say where an instance's data is.
type Options struct {
	// DataDir is the instance's data dir (SPROUDCHAT_DATA_DIR).
	DataDir string
	// DatabaseURL is the PostgreSQL URL; empty means SQLite in DataDir.
	DatabaseURL string
	// Logger gets progress lines; nil discards them. It must not write to the stream.
	Logger *slog.Logger
	// Clock stamps a snapshot's TakenAt; nil is the real clock.
	Clock clock.Clock

	// failAt, when set, runs before each step of a swap or rollback and stops it with
	// its error: how the tests crash a restore between two steps.
	failAt func(step string) error
}

func (o Options) log() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

func (o Options) now() clock.Clock {
	if o.Clock == nil {
		return clock.Real{}
	}
	return o.Clock
}

func (o Options) postgres() bool { return o.DatabaseURL != "" }

func (o Options) path(elem ...string) string {
	return filepath.Join(append([]string{o.DataDir}, elem...)...)
}

func (o Options) step(name string) error {
	if o.failAt != nil {
		return o.failAt(name)
	}
	return nil
}

// Backup writes a snapshot of the instance's data to w while the instance may keep
// running: every write committed before Backup began is in it. Blobs whose SHA-256 is
// in known are listed in the header but their content is left out. Returns the header
// written. Returns ErrNoData when a SQLite data dir has no database.
func Backup(ctx context.Context, o Options, known map[string]bool, w io.Writer) (snapshot.Header, error) {
	if !o.postgres() {
		if _, err := os.Stat(o.path(dbName)); err != nil {
			return snapshot.Header{}, fmt.Errorf("%w in %s: %v", ErrNoData, o.DataDir, errors.Unwrap(err))
		}
	}
	parent := mkdirAll(o.path(backupDir))
	sweep(parent, time.Now())
	tmp, err := os.MkdirTemp(parent, "backup-")
	if err != nil {
		return snapshot.Header{}, fmt.Errorf("create backup dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	defer hold(tmp)()
	h := snapshot.Header{Format: snapshot.Format, TakenAt: o.now().Now()}
	var dbFile string
	if o.postgres() {
		h.Dialect = snapshot.DialectPostgres
		dbFile = filepath.Join(tmp, snapshot.PgDumpName)
		h.SchemaVersion, h.Rows, err = dumpPostgres(ctx, o, dbFile)
	} else {
		h.Dialect = snapshot.DialectSQLite
		dbFile = filepath.Join(tmp, snapshot.SQLiteName)
		h.SchemaVersion, h.Rows, err = copySQLite(ctx, o.path(dbName), dbFile)
	}
	if err != nil {
		return snapshot.Header{}, err
	}
	if h.Database, err = hashFile(dbFile); err != nil {
		return snapshot.Header{}, err
	}
	// The blobs are walked after the database copy: an attachment row is written after
	// its blob, so every blob the copy refers to is here. Each is hard-linked into tmp
	// so one deleted meanwhile still goes out whole.
	links := filepath.Join(tmp, "blobs")
	if h.Blobs, err = linkBlobs(o.path(blobsDir), links, known); err != nil {
		return snapshot.Header{}, err
	}
	sw, err := snapshot.NewWriter(w, h)
	if err != nil {
		return snapshot.Header{}, err
	}
	if err := copyFileTo(dbFile, sw.Database); err != nil {
		return snapshot.Header{}, err
	}
	for _, b := range h.Blobs {
		if known[b.SHA256] {
			continue
		}
		if err := copyFileTo(filepath.Join(links, b.SHA256), func(r io.Reader) error { return sw.Blob(b.SHA256, r) }); err != nil {
			return snapshot.Header{}, err
		}
	}
	if err := sw.Close(); err != nil {
		return snapshot.Header{}, err
	}
	o.log().InfoContext(ctx, "backup written", "dialect", h.Dialect, "schema_version", h.SchemaVersion,
		"tables", len(h.Rows), "blobs", len(h.Blobs), "blobs_omitted", len(h.Blobs)-sent(h.Blobs, known))
	return h, nil
}

func sent(blobs []snapshot.File, known map[string]bool) int {
	n := 0
	for _, b := range blobs {
		if !known[b.SHA256] {
			n++
		}
	}
	return n
}

// ReadKnown reads SHA-256s, one per line (blank lines ignored). Returns an error naming
// the first line that is not a lower-case hex SHA-256.
func ReadKnown(r io.Reader) (map[string]bool, error) {
	b, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("read known blobs: %w", err)
	}
	known := map[string]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !snapshot.ValidSHA256(line) {
			return nil, fmt.Errorf("known blobs, line %d: not a lower-case hex SHA-256", i+1)
		}
		known[line] = true
	}
	return known, nil
}

// linkBlobs walks the blob store in dir (attachments/xx/yy/<sha>, its tmp/ skipped) and
// hard-links every blob not in known into links. A blob removed during the walk is
// left out. The list is sorted by SHA-256.
func linkBlobs(dir, links string, known map[string]bool) ([]snapshot.File, error) {
	if err := os.MkdirAll(links, 0o700); err != nil {
		return nil, err
	}
	var out []snapshot.File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // no attachments yet, or a dir removed meanwhile
			}
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if rel == "tmp" {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		if !snapshot.ValidSHA256(name) || rel != filepath.Join(name[:2], name[2:4], name) || !d.Type().IsRegular() {
			return nil // not a blob this store made
		}
		src := p
		if !known[name] {
			src = filepath.Join(links, name)
			if err := os.Link(p, src); errors.Is(err, fs.ErrNotExist) {
				return nil
			} else if err != nil {
				return fmt.Errorf("link blob: %w", err)
			}
		}
		fi, err := os.Stat(src)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		out = append(out, snapshot.File{SHA256: name, Size: fi.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list blobs: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SHA256 < out[j].SHA256 })
	return out, nil
}

func hashFile(path string) (snapshot.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return snapshot.File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return snapshot.File{}, fmt.Errorf("hash %s: %w", filepath.Base(path), err)
	}
	return snapshot.File{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

func copyFileTo(path string, write func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return write(f)
}

// mkdirAll creates dir (0700) and returns it; a failure shows at the next use of dir.
func mkdirAll(dir string) string {
	os.MkdirAll(dir, 0o700)
	return dir
}
