package database_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"

	"github.com/sproudstack/sproudchat/platform/database"
	"github.com/sproudstack/sproudchat/platform/testkit/dbtest"
)

var files = fstest.MapFS{
	"m/0001_notes.sql": {Data: []byte(`-- notes people keep
CREATE TABLE notes (
	id   {{.ID}},
	body TEXT NOT NULL,
	at   {{.Time}} NOT NULL,
	data {{.Blob}}
);
CREATE INDEX notes_at ON notes (at);
`)},
	"m/0002_tags.sqlite.sql":   {Data: []byte("CREATE TABLE tags (name TEXT PRIMARY KEY, kind TEXT NOT NULL DEFAULT 'sqlite');\n")},
	"m/0002_tags.postgres.sql": {Data: []byte("CREATE TABLE tags (name TEXT PRIMARY KEY, kind TEXT NOT NULL DEFAULT 'postgres');\n")},
}

func TestMigrateEmptyDatabaseToLatest(t *testing.T) {
	step := func(ctx context.Context, tx *gorm.DB) error {
		return tx.Exec("INSERT INTO tags (name) VALUES ('from-step')").Error
	}
	m := database.Migrator{FS: files, Dir: "m", LockKey: 1, Steps: []database.Migration{{Version: 3, Name: "seed", Step: step}}}
	dbtest.EachDialect(t, func(t *testing.T, d database.Dialect) {
		ctx := context.Background()
		db := dbtest.MustOpenEmpty(t, d)
		if v, err := m.Current(ctx, db); err != nil || v != 0 {
			t.Fatalf("empty database: version %d, %v; want 0", v, err)
		}
		applied, err := m.Up(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int{1, 2, 3}, applied); diff != "" {
			t.Errorf("applied (-want +got):\n%s", diff)
		}
		if v, err := m.Current(ctx, db); err != nil || v != 3 {
			t.Errorf("after migrating: version %d, %v; want 3", v, err)
		}
		if latest, err := m.Latest(d); err != nil || latest != 3 {
			t.Errorf("latest %d, %v; want 3", latest, err)
		}
		var kinds []string
		db.Gorm().Raw("SELECT kind FROM tags").Scan(&kinds)
		if diff := cmp.Diff([]string{string(d)}, kinds); diff != "" {
			t.Errorf("the %s file and the step ran? kinds (-want +got):\n%s", d, diff)
		}
		again, err := m.Up(ctx, db)
		if err != nil || len(again) != 0 {
			t.Errorf("second run applied %v, %v; want nothing", again, err)
		}
	})
}

// TestFailedStepRollsBack: a step that fails undoes its version's SQL and records
// nothing; the versions before it stay.
func TestFailedStepRollsBack(t *testing.T) {
	boom := errors.New("boom")
	m := database.Migrator{FS: files, Dir: "m", LockKey: 2, Steps: []database.Migration{{Version: 2, Step: func(ctx context.Context, tx *gorm.DB) error {
		if err := tx.Exec("INSERT INTO tags (name) VALUES ('x')").Error; err != nil {
			return err
		}
		return boom
	}}}}
	dbtest.EachDialect(t, func(t *testing.T, d database.Dialect) {
		ctx := context.Background()
		db := dbtest.MustOpenEmpty(t, d)
		applied, err := m.Up(ctx, db)
		if !errors.Is(err, boom) {
			t.Fatalf("error %v, want boom", err)
		}
		if diff := cmp.Diff([]int{1}, applied); diff != "" {
			t.Errorf("applied (-want +got):\n%s", diff)
		}
		if v, _ := m.Current(ctx, db); v != 1 {
			t.Errorf("version %d, want 1", v)
		}
		if db.Gorm().Migrator().HasTable("tags") {
			t.Error("table tags of the failed version exists")
		}
	})
}

// TestHistoryOfEarlierVersions: a database migrated by the copies of this runner that
// lived in instance/ and controlplane/ (same history table) is not migrated again.
func TestHistoryOfEarlierVersions(t *testing.T) {
	m := database.Migrator{FS: files, Dir: "m", LockKey: 3}
	dbtest.EachDialect(t, func(t *testing.T, d database.Dialect) {
		ctx := context.Background()
		db := dbtest.MustOpenEmpty(t, d)
		timeType := map[database.Dialect]string{database.SQLite: "DATETIME", database.Postgres: "TIMESTAMPTZ"}[d]
		// What the earlier runner made: its DDL and a record of version 1.
		for _, stmt := range []string{
			`CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ` + timeType + ` NOT NULL)`,
			"CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
			"INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'notes', CURRENT_TIMESTAMP)",
		} {
			if err := db.Gorm().Exec(stmt).Error; err != nil {
				t.Fatal(err)
			}
		}
		applied, err := m.Up(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int{2}, applied); diff != "" {
			t.Errorf("applied (-want +got):\n%s", diff)
		}
	})
}

func TestMigrationsAreChecked(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
		steps []database.Migration
	}{
		{name: "bad name", files: fstest.MapFS{"m/1_x.sql": {Data: []byte("SELECT 1;")}}},
		{name: "version twice", files: fstest.MapFS{"m/0001_a.sql": {Data: []byte("SELECT 1;")}, "m/0001_b.sql": {Data: []byte("SELECT 1;")}}},
		{name: "unknown type", files: fstest.MapFS{"m/0001_a.sql": {Data: []byte("CREATE TABLE a (x {{.Money}});")}}},
		{name: "two steps", files: fstest.MapFS{"m/0001_a.sql": {Data: []byte("SELECT 1;")}},
			steps: []database.Migration{{Version: 1, Step: noop}, {Version: 1, Step: noop}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := (database.Migrator{FS: tc.files, Dir: "m", Steps: tc.steps}).Migrations(database.SQLite); err == nil {
				t.Error("no error")
			}
		})
	}
}

func noop(context.Context, *gorm.DB) error { return nil }

// TestTriggerBlocksStayWhole: semicolons inside "-- begin"/"-- end" do not end the
// statement.
func TestTriggerBlocksStayWhole(t *testing.T) {
	fs := fstest.MapFS{"m/0001_t.sqlite.sql": {Data: []byte(`CREATE TABLE a (n INTEGER);
CREATE TABLE b (n INTEGER);
-- begin
CREATE TRIGGER a_to_b AFTER INSERT ON a BEGIN
	INSERT INTO b (n) VALUES (new.n);
END;
-- end
`)}}
	db := dbtest.MustOpenEmpty(t, database.SQLite)
	if _, err := (database.Migrator{FS: fs, Dir: "m"}).Up(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	db.Gorm().Exec("INSERT INTO a (n) VALUES (7)")
	var n int
	if db.Gorm().Raw("SELECT n FROM b").Scan(&n); n != 7 {
		t.Errorf("trigger copied %d, want 7", n)
	}
}

// TestSQLiteFilesArePrivate: the database and its -wal and -shm files hold password
// hashes, token digests and sealed secrets; nobody but the binary's user may read them,
// even under a permissive umask, and a file an older version left readable is tightened.
func TestSQLiteFilesArePrivate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before func(path string)
	}{
		{"new database", func(string) {}},
		{"database left readable by an older version", func(path string) {
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "private.db")
			tc.before(path)
			db, err := database.Open(context.Background(), database.Options{SQLitePath: path})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			// A write, so the WAL and its index exist.
			if err := db.Gorm().Exec("CREATE TABLE t (x INTEGER)").Error; err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatalf("%s: %v", filepath.Base(p), err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s is %v, want -rw-------", filepath.Base(p), fi.Mode().Perm())
				}
			}
		})
	}
}

// TestOpenErrorHidesPassword: a failed connection's error (which gets logged) never
// shows the URL's password.
func TestOpenErrorHidesPassword(t *testing.T) {
	_, err := database.Open(context.Background(), database.Options{URL: "postgres://u:hunter2secret@127.0.0.1:1/db?connect_timeout=1"})
	if err == nil {
		t.Fatal("connected to port 1")
	}
	if msg := err.Error(); strings.Contains(msg, "hunter2secret") {
		t.Errorf("error shows the password: %s", msg)
	}
}
