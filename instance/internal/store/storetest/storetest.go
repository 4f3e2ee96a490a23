// Package storetest opens real databases for tests: a fresh SQLite file, and a fresh
// database on the PostgreSQL server named by SPROUDCHAT_TEST_POSTGRES_URL. With
// CI=true a missing server fails the test instead of skipping it.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/store"
)

// EnvPostgres names the variable holding a PostgreSQL URL whose role may create databases.
const EnvPostgres = "SPROUDCHAT_TEST_POSTGRES_URL"

// Dialects are the databases every store test runs on.
var Dialects = []store.Dialect{store.SQLite, store.Postgres}

// EachDialect runs fn as a parallel subtest named after each dialect.
func EachDialect(t *testing.T, fn func(t *testing.T, d store.Dialect)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// ForEach runs fn as a subtest on a migrated, empty database of each dialect.
func ForEach(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	EachDialect(t, func(t *testing.T, d store.Dialect) { fn(t, MustOpen(t, d)) })
}

// MustOpen returns a migrated, empty database of dialect d, removed when the test ends.
func MustOpen(t *testing.T, d store.Dialect) *store.DB {
	t.Helper()
	db := MustOpenEmpty(t, d)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", d, err)
	}
	return db
}

// MustOpenEmpty is MustOpen without migrating.
func MustOpenEmpty(t *testing.T, d store.Dialect) *store.DB {
	t.Helper()
	ctx := context.Background()
	dbURL, sqlitePath := "", filepath.Join(t.TempDir(), "test.db")
	if d == store.Postgres {
		dbURL = MustPostgresDatabase(t)
	}
	db, err := store.Open(ctx, dbURL, sqlitePath)
	if err != nil {
		t.Fatalf("open %s: %v", d, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresURL returns the server URL, skipping the test (failing it under CI=true) when
// none is configured.
func PostgresURL(t *testing.T) string {
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
func MustPostgresDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	admin := PostgresURL(t)
	b := make([]byte, 6)
	rand.Read(b)
	name := "sproudtest_" + hex.EncodeToString(b)
	adm, err := store.Open(ctx, admin, "")
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	if err := adm.Gorm().Exec("CREATE DATABASE " + name).Error; err != nil {
		adm.Close()
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer adm.Close()
		if err := adm.Gorm().Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error; err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	u.Path = "/" + name
	return u.String()
}
