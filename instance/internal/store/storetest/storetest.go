// Package storetest opens the instance's real databases for tests: a fresh SQLite file,
// and a fresh database on the PostgreSQL server named by SPROUDCHAT_TEST_POSTGRES_URL
// (with CI=true a missing server fails the test instead of skipping it). The work is
// platform's dbtest; this package only knows the instance's store.
package storetest

import (
	"context"

	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/platform/database"
	"github.com/sproudstack/sproudchat/platform/testkit/dbtest"
)

var harness = dbtest.Harness[*store.DB]{Open: func(ctx context.Context, o database.Options) (*store.DB, error) {
	return store.Open(ctx, o.URL, o.SQLitePath)
}}

// The helpers of dbtest for the instance's store: MustOpen returns a migrated, empty
// database of a dialect, MustOpenEmpty one not migrated, ForEach runs a parallel subtest
// on each dialect's; each is closed (on PostgreSQL, dropped) when the test ends.
var (
	MustOpen             = harness.MustOpen
	MustOpenEmpty        = harness.MustOpenEmpty
	MustPostgresDatabase = dbtest.MustPostgresDatabase
	ForEach              = harness.ForEach
	EachDialect          = dbtest.EachDialect
	Dialects             = dbtest.Dialects
)
