package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/backup"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/platform/database"
	"github.com/sproudstack/sproudchat/platform/snapshot"
)

var testKey = bytes.Repeat([]byte{7}, 32)

// instance is one instance's data (a data dir and, on PostgreSQL, a database) with the
// services that write it.
type instance struct {
	opts     backup.Options
	db       *store.DB
	chat     *chat.Service
	tickets  *tickets.Service
	atts     *tickets.Attachments
	settings *store.Settings
	admin    accounts.Principal
}

// emptyOptions is a fresh data dir (and database) of dialect d, nothing in it.
func emptyOptions(t *testing.T, d database.Dialect) backup.Options {
	t.Helper()
	o := backup.Options{DataDir: filepath.Join(t.TempDir(), "data")}
	if d == database.Postgres {
		o.DatabaseURL = storetest.MustPostgresDatabase(t)
	}
	return o
}

// newInstance is a migrated instance with an admin, open until close or the test's end.
func newInstance(t *testing.T, d database.Dialect) *instance {
	t.Helper()
	o := emptyOptions(t, d)
	in := open(t, o)
	u := accounts.User{Email: "ada@example.org", Name: "Ada", Role: accounts.RoleAdmin, Active: true, TicketScope: accounts.ScopeAll, PasswordHash: "x"}
	if err := store.NewAccounts(in.db).CreateUser(context.Background(), &u, accounts.AuditEntry{At: time.Now().UTC(), Action: "user.create", TargetType: "user"}); err != nil {
		t.Fatal(err)
	}
	in.admin = accounts.Principal{User: u}
	return in
}

func open(t *testing.T, o backup.Options) *instance {
	t.Helper()
	ctx := context.Background()
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, o.DatabaseURL, filepath.Join(o.DataDir, "sproudchat.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.MigrateWith(ctx, testKey); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ts := tickets.NewService(store.NewTickets(db), clock.Real{})
	atts := tickets.NewAttachments(ts, store.NewTickets(db), store.NewBlobs(filepath.Join(o.DataDir, "attachments")), tickets.Limits{MaxFile: 1 << 20, Quota: 1 << 30})
	return &instance{opts: o, db: db, tickets: ts, atts: atts, settings: store.NewSettings(db),
		chat: chat.NewService(store.NewChat(db), chat.NewHub(), chat.Options{Files: atts})}
}

func (in *instance) close(t *testing.T) {
	t.Helper()
	if err := in.db.Close(); err != nil {
		t.Fatal(err)
	}
}

// seed writes a bit of everything: tickets with messages and attachments, a chat,
// settings, a second user.
func (in *instance) seed(t *testing.T, tag string) {
	t.Helper()
	ctx := context.Background()
	for i := range 3 {
		tk, err := in.tickets.Create(ctx, &in.admin, tickets.NewTicket{Subject: fmt.Sprintf("%s subject %d", tag, i), RequesterEmail: "bo@example.org", Body: "help " + tag})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := in.atts.Attach(ctx, in.admin, tk.ID, "note.txt", strings.NewReader(fmt.Sprintf("attachment %s %d", tag, i))); err != nil {
			t.Fatal(err)
		}
	}
	c, _, err := in.chat.Start(ctx, "Visitor "+tag, "", "https://shop.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.chat.Send(ctx, c.ID, chat.Visitor, nil, "hello "+tag, "seed-"+tag); err != nil {
		t.Fatal(err)
	}
	if err := in.settings.Set(ctx, "test."+tag, map[string]string{"tag": tag}, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	u := accounts.User{Email: tag + "@example.org", Name: tag, Role: accounts.RoleAgent, Active: true, TicketScope: accounts.ScopeAll, PasswordHash: "y"}
	if err := store.NewAccounts(in.db).CreateUser(ctx, &u, accounts.AuditEntry{At: time.Now().UTC(), Action: "user.create", TargetType: "user"}); err != nil {
		t.Fatal(err)
	}
}

// mustBackup is a full snapshot stream of o's data.
func mustBackup(t *testing.T, o backup.Options, known map[string]bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := backup.Backup(context.Background(), o, known, &buf); err != nil {
		t.Fatalf("backup: %v", err)
	}
	return buf.Bytes()
}

// tables dumps every table of the database at o: table → its rows as text, sorted.
func tables(t *testing.T, o backup.Options) map[string][]string {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, o.DatabaseURL, filepath.Join(o.DataDir, "sproudchat.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g := db.Gorm().WithContext(ctx)
	var names []string
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
	if o.DatabaseURL != "" {
		q = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
	}
	if err := g.Raw(q).Scan(&names).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, n := range names {
		rows, err := g.Raw(`SELECT * FROM "` + n + `"`).Rows()
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				if tm, ok := v.(time.Time); ok {
					v = tm.UTC().Format(time.RFC3339Nano)
				}
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%s=%v|", cols[i], v)
			}
			lines = append(lines, b.String())
		}
		rows.Close()
		sort.Strings(lines)
		out[n] = lines
	}
	return out
}

// files hashes every regular file under dir: relative path → SHA-256.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(h[:])
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// blobs are the attachment files of a data dir.
func blobs(t *testing.T, dir string) map[string]string {
	t.Helper()
	return files(t, filepath.Join(dir, "attachments"))
}

// state is what a refused or rolled-back restore must leave exactly as it was: the
// data dir's files (but .restore/, the tool's own) and, on PostgreSQL, the tables.
type state struct {
	Files  map[string]string
	Tables map[string][]string
}

func stateOf(t *testing.T, o backup.Options) state {
	t.Helper()
	fs := files(t, o.DataDir)
	for k := range fs {
		if strings.HasPrefix(k, ".restore"+string(filepath.Separator)) {
			delete(fs, k)
		}
	}
	s := state{Files: fs}
	if o.DatabaseURL != "" {
		s.Tables = tables(t, o)
	}
	return s
}

func assertState(t *testing.T, o backup.Options, want state) {
	t.Helper()
	if diff := cmp.Diff(want, stateOf(t, o)); diff != "" {
		t.Fatalf("the data changed (-before +after):\n%s", diff)
	}
}

// rewrite re-encodes a stream through edit, which may change the header and the
// database's bytes; the header's database hash and size follow the new bytes unless
// keepHash.
func rewrite(t *testing.T, stream []byte, edit func(h *snapshot.Header, db []byte) []byte) []byte {
	t.Helper()
	r, err := snapshot.NewReader(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	h := r.Header
	var db []byte
	blobs := map[string][]byte{}
	for {
		e, cr, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(cr)
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == snapshot.KindDatabase {
			db = b
		} else {
			blobs[e.SHA256] = b
		}
	}
	db = edit(&h, db)
	sum := sha256.Sum256(db)
	h.Database = snapshot.File{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(db))}
	var out bytes.Buffer
	w, err := snapshot.NewWriter(&out, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Database(bytes.NewReader(db)); err != nil {
		t.Fatal(err)
	}
	for _, b := range h.Blobs {
		if c, ok := blobs[b.SHA256]; ok {
			if err := w.Blob(b.SHA256, bytes.NewReader(c)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
