// Package dbtest opens real databases for tests: a fresh SQLite file, and a fresh
// database on the PostgreSQL server named by SPROUDCHAT_TEST_POSTGRES_URL. With CI=true
// a missing server fails the test instead of skipping it.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/platform/database"
	"github.com/sproudstack/sproudchat/platform/testkit/poll"
)

// EnvPostgres names the variable holding a PostgreSQL URL whose role may create
// databases.
const EnvPostgres = "SPROUDCHAT_TEST_POSTGRES_URL"

// Dialects are the databases every store test runs on.
var Dialects = []database.Dialect{database.SQLite, database.Postgres}

// EachDialect runs fn as a parallel subtest named after each dialect.
func EachDialect(t *testing.T, fn func(t *testing.T, d database.Dialect)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// Options returns where a fresh, empty database of dialect d is: a SQLite file in the
// test's temporary directory, or a PostgreSQL database created for this test and
// dropped when it ends.
func Options(t testing.TB, d database.Dialect) database.Options {
	t.Helper()
	if d == database.Postgres {
		return database.Options{URL: MustPostgresDatabase(t)}
	}
	return database.Options{SQLitePath: filepath.Join(t.TempDir(), "test.db")}
}

// MustOpenEmpty opens a fresh, empty database of dialect d, closed when the test ends.
func MustOpenEmpty(t testing.TB, d database.Dialect) *database.DB {
	t.Helper()
	db, err := database.Open(context.Background(), Options(t, d))
	if err != nil {
		t.Fatalf("open %s: %v", d, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Store is what a binary's database type offers a Harness.
type Store interface {
	Migrate(ctx context.Context) ([]int, error)
	Close() error
}

// Harness opens the databases of one binary for its tests: Open opens its own type
// (usually a wrapper of database.DB) where the options say.
type Harness[DB Store] struct {
	Open func(ctx context.Context, o database.Options) (DB, error)
}

// MustOpenEmpty opens a fresh, unmigrated database of dialect d, closed when the test
// ends.
func (h Harness[DB]) MustOpenEmpty(t testing.TB, d database.Dialect) DB {
	t.Helper()
	return h.open(t, d, 1, false)[0]
}

// MustOpen opens a fresh database of dialect d migrated to the latest version.
func (h Harness[DB]) MustOpen(t testing.TB, d database.Dialect) DB {
	t.Helper()
	return h.open(t, d, 1, true)[0]
}

// MustOpenN opens one fresh database n times, each with its own connection pool and
// each migrating it in turn, as n processes would.
func (h Harness[DB]) MustOpenN(t testing.TB, d database.Dialect, n int) []DB {
	t.Helper()
	return h.open(t, d, n, true)
}

func (h Harness[DB]) open(t testing.TB, d database.Dialect, n int, migrate bool) []DB {
	t.Helper()
	ctx := context.Background()
	o := Options(t, d)
	out := make([]DB, 0, n)
	for range n {
		db, err := h.Open(ctx, o)
		if err != nil {
			t.Fatalf("open %s: %v", d, err)
		}
		t.Cleanup(func() { db.Close() })
		if migrate {
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatalf("migrate %s: %v", d, err)
			}
		}
		out = append(out, db)
	}
	return out
}

// ForEach runs fn as a parallel subtest on a migrated, empty database of each dialect.
func (h Harness[DB]) ForEach(t *testing.T, fn func(t *testing.T, db DB)) {
	t.Helper()
	EachDialect(t, func(t *testing.T, d database.Dialect) { fn(t, h.MustOpen(t, d)) })
}

// PostgresURL returns the server URL, skipping the test (failing it under CI=true) when
// none is configured.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvPostgres)
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set; CI must run the PostgreSQL tests (scripts/test-services.sh starts a server)", EnvPostgres)
		}
		t.Skipf("%s is not set; run `make test` to start PostgreSQL", EnvPostgres)
	}
	return u
}

// MustPostgresDatabase creates an empty database for this test on the configured server,
// drops it when the test ends, and returns its URL.
func MustPostgresDatabase(t testing.TB) string {
	t.Helper()
	admin := PostgresURL(t)
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "sproudtest_" + hex.EncodeToString(b)
	adm, err := database.Open(context.Background(), database.Options{URL: admin})
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	if err := adm.Gorm().Exec("CREATE DATABASE " + name).Error; err != nil {
		adm.Close()
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer adm.Close()
		// FORCE ends the test's connections, but not an autovacuum worker that happens
		// to be in the database (the role may not signal it): it is over soon.
		poll.EventuallyWithin(t, 30*time.Second, "drop database "+name, func() bool {
			err := adm.Gorm().Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error
			if err != nil {
				t.Logf("drop database %s: %v", name, err)
			}
			return err == nil
		})
	})
	u.Path = "/" + name
	return u.String()
}
