// Package storetest opens real control-plane databases for tests: a fresh SQLite file,
// and a fresh database on the server named by SPROUDCHAT_TEST_POSTGRES_URL (with
// CI=true a missing server fails the test instead of skipping it).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/sproudstack/sproudchat/controlplane/internal/store"
)

// Dialects are the databases every store test runs on.
var Dialects = []store.Dialect{store.SQLite, store.Postgres}

// EachDialect runs fn as a parallel subtest per dialect.
func EachDialect(t *testing.T, fn func(t *testing.T, d store.Dialect)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) { t.Parallel(); fn(t, d) })
	}
}

// MustOpen returns a migrated, empty database of dialect d, dropped after the test.
func MustOpen(t *testing.T, d store.Dialect) *store.DB {
	t.Helper()
	return MustOpenN(t, d, 1)[0]
}

// MustOpenN opens one migrated, empty database n times, each with its own connection
// pool: as n control-plane processes would.
func MustOpenN(t *testing.T, d store.Dialect, n int) []*store.DB {
	t.Helper()
	dbURL := ""
	if d == store.Postgres {
		dbURL = MustPostgresDatabase(t)
	}
	path := filepath.Join(t.TempDir(), "cp.db")
	var out []*store.DB
	for i := 0; i < n; i++ {
		db, err := store.Open(context.Background(), dbURL, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		out = append(out, db)
	}
	return out
}

// MustPostgresDatabase creates a database for this test and returns its URL.
func MustPostgresDatabase(t *testing.T) string {
	t.Helper()
	admin := os.Getenv("SPROUDCHAT_TEST_POSTGRES_URL")
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SPROUDCHAT_TEST_POSTGRES_URL is not set; CI must run the PostgreSQL tests")
		}
		t.Skip("SPROUDCHAT_TEST_POSTGRES_URL is not set; run make test")
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "sproudcp_" + hex.EncodeToString(b)
	adm, err := store.Open(context.Background(), admin, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := adm.Gorm().Exec("CREATE DATABASE " + name).Error; err != nil {
		adm.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer adm.Close()
		adm.Gorm().Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	return u.String()
}
