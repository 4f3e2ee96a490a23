package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	_ "github.com/glebarez/go-sqlite"

	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/platform/snapshot"
)

// Strings a backup of the test instance holds and no stored object may show.
const (
	secretSubject    = "Refund for order 4471 never arrived at Quillfeather Lane"
	secretAttachment = "INVOICE-TEXT: Sincerely yours, the pangolin accountant of Ostrava"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// mustIdentity returns a new age identity.
func mustIdentity(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// newVault is a vault on tg that opens with ids[0] (the control plane's identity) and
// wraps for ids[0] plus the extra recipients.
func newVault(tg Target, clk clock.Clock, id *age.X25519Identity, extra ...age.Recipient) *Vault {
	return New(Options{Target: tg, Identities: []age.Identity{id}, Recipients: append([]age.Recipient{id.Recipient()}, extra...), Clock: clk})
}

// source is the test instance.
func source(id string) Source {
	return Source{InstanceID: id, Slug: "acme", Plan: "starter", CustomerID: "cus_1", Secrets: map[string]string{"SPROUDCHAT_SECRET_KEY": "k-" + id}}
}

// entry is one snapshot entry a test streams, opened as often as needed.
type entry struct {
	sha  string
	size int64
	open func() io.Reader
}

func bytesEntry(b []byte) entry {
	s := sha256.Sum256(b)
	return entry{sha: hex.EncodeToString(s[:]), size: int64(len(b)), open: func() io.Reader { return bytes.NewReader(b) }}
}

// fileEntry is a file on disk, read twice (hash, then stream) and never held whole.
func fileEntry(t testing.TB, path string) entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	return entry{sha: hex.EncodeToString(h.Sum(nil)), size: n, open: func() io.Reader {
		f, err := os.Open(path)
		if err != nil {
			return iotestErr{err}
		}
		t.Cleanup(func() { f.Close() })
		return f
	}}
}

// randomEntry is size incompressible bytes from seed, generated on the fly.
func randomEntry(seed uint64, size int64) entry {
	open := func() io.Reader {
		var s [32]byte
		s[0] = byte(seed)
		return io.LimitReader(rand.NewChaCha8(s), size)
	}
	h := sha256.New()
	io.Copy(h, open())
	return entry{sha: hex.EncodeToString(h.Sum(nil)), size: size, open: open}
}

type iotestErr struct{ err error }

func (r iotestErr) Read([]byte) (int, error) { return 0, r.err }

// streamOf is the snapshot stream of db and blobs, written as it is read; blobs whose
// SHA-256 omit holds are listed in the header but not carried.
func streamOf(t testing.TB, db entry, blobs []entry, omit map[string]bool) io.Reader {
	t.Helper()
	h := snapshot.Header{Dialect: snapshot.DialectSQLite, SchemaVersion: 7, TakenAt: t0, Rows: map[string]int64{"tickets": 1},
		Database: snapshot.File{SHA256: db.sha, Size: db.size}}
	for _, b := range blobs {
		h.Blobs = append(h.Blobs, snapshot.File{SHA256: b.sha, Size: b.size})
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(func() error {
			w, err := snapshot.NewWriter(pw, h)
			if err != nil {
				return err
			}
			if err := w.Database(db.open()); err != nil {
				return err
			}
			for _, b := range blobs {
				if omit[b.sha] {
					continue
				}
				if err := w.Blob(b.sha, b.open()); err != nil {
					return err
				}
			}
			return w.Close()
		}())
	}()
	t.Cleanup(func() { pr.Close(); <-done })
	return pr
}

// readStream reads a snapshot stream back: entry name → SHA-256, checked by the
// snapshot reader.
func readStream(t testing.TB, r io.Reader) (snapshot.Header, map[string]string) {
	t.Helper()
	sr, err := snapshot.NewReader(r)
	if err != nil {
		t.Fatalf("read restored stream: %v", err)
	}
	got := map[string]string{}
	for {
		e, body, err := sr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read restored stream: %v", err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, body); err != nil {
			t.Fatalf("read restored %s: %v", e.Name, err)
		}
		got[e.Name] = hex.EncodeToString(h.Sum(nil))
	}
	if m := sr.Missing(); len(m) != 0 {
		t.Fatalf("restored stream omits %d blobs", len(m))
	}
	return sr.Header, got
}

// want is what readStream returns for db and blobs.
func want(db entry, blobs []entry) map[string]string {
	out := map[string]string{snapshot.SQLiteName: db.sha}
	for _, b := range blobs {
		out[snapshot.BlobPrefix+b.sha] = b.sha
	}
	return out
}

// mustTicketsDB builds a real SQLite database with rows tickets (a few hundred bytes
// each, one with secretSubject) and returns its path; the database stays open for
// the test to change.
func mustTicketsDB(t testing.TB, rows int) (*sql.DB, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "live.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	exec(t, db, `CREATE TABLE tickets (id INTEGER PRIMARY KEY, subject TEXT NOT NULL, body TEXT NOT NULL,
		status TEXT NOT NULL, created_at INTEGER NOT NULL)`)
	exec(t, db, `CREATE INDEX tickets_created ON tickets (created_at)`)
	exec(t, db, `CREATE TABLE messages (id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL, body TEXT NOT NULL)`)
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the order refund parcel invoice login password widget chat agent customer arrived never " +
		"please thanks hello broken missing account billing upgrade plan team mobile browser error page slow")
	text := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		return b.String()
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	// Rows go in batches: a statement per row costs minutes under the race detector.
	const batch = 100
	for start := 0; start < rows; start += batch {
		var tickets, messages []any
		for i := start; i < min(start+batch, rows); i++ {
			subject := text(6)
			if i == rows/2 {
				subject = secretSubject
			}
			tickets = append(tickets, subject, text(40), []string{"open", "pending", "closed"}[rng.IntN(3)], 1_700_000_000+i*60)
			if i%2 == 0 {
				messages = append(messages, i+1, text(30))
			}
		}
		insertRows(t, tx, "tickets (subject, body, status, created_at)", 4, tickets)
		insertRows(t, tx, "messages (ticket_id, body)", 2, messages)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return db, path
}

// insertRows inserts args, cols values a row, in one statement.
func insertRows(t testing.TB, tx *sql.Tx, into string, cols int, args []any) {
	t.Helper()
	row := "(?" + strings.Repeat(", ?", cols-1) + ")"
	q := "INSERT INTO " + into + " VALUES " + row + strings.Repeat(", "+row, len(args)/cols-1)
	if _, err := tx.Exec(q, args...); err != nil {
		t.Fatalf("insert into %s: %v", into, err)
	}
}

func exec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// vacuumInto takes a consistent copy of db as `sproudchat backup` does.
func vacuumInto(t testing.TB, db *sql.DB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), fmt.Sprintf("snap-%d.db", rand.Int()))
	exec(t, db, `VACUUM INTO ?`, p)
	return p
}

// objectsAt lists every object of the target.
func objectsAt(t testing.TB, tg Target) []Object {
	t.Helper()
	objs, err := tg.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return objs
}
