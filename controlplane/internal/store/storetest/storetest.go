// Package storetest opens the control plane's real databases for tests, through
// platform's dbtest: a fresh SQLite file or a fresh database on the server named by
// SPROUDCHAT_TEST_POSTGRES_URL (with CI=true a missing server fails the test instead of
// skipping it).
package storetest

import (
	"context"

	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/platform/database"
	"github.com/sproudstack/sproudchat/platform/testkit/dbtest"
)

// The helpers of dbtest for the control plane's store: ForEach runs a parallel subtest
// on a migrated, empty database of each dialect; MustOpen returns one; MustOpenN opens
// one database n times, as n control-plane processes would.
var (
	ForEach     = harness.ForEach
	MustOpen    = harness.MustOpen
	MustOpenN   = harness.MustOpenN
	EachDialect = dbtest.EachDialect
)

var harness = dbtest.Harness[*store.DB]{Open: func(ctx context.Context, o database.Options) (*store.DB, error) {
	return store.Open(ctx, o.URL, o.SQLitePath)
}}
