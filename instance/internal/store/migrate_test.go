package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
)

func TestMigrateEmptyDatabaseToLatest(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		db := storetest.MustOpenEmpty(t, d)
		if v, err := db.CurrentVersion(ctx); err != nil || v != 0 {
			t.Fatalf("empty database: version %d, %v; want 0", v, err)
		}
		ms, err := store.Migrations(d)
		if err != nil {
			t.Fatal(err)
		}
		applied, err := db.Migrate(ctx)
		if err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if len(applied) != len(ms) || len(ms) == 0 {
			t.Fatalf("applied %v, want all %d migrations", applied, len(ms))
		}
		latest, _ := db.LatestVersion()
		if v, err := db.CurrentVersion(ctx); err != nil || v != latest {
			t.Fatalf("after migrate: version %d, %v; want %d", v, err, latest)
		}
		again, err := db.Migrate(ctx)
		if err != nil || len(again) != 0 {
			t.Fatalf("second migrate applied %v, %v; want nothing", again, err)
		}
		for _, table := range []string{"users", "sessions", "api_tokens", "audit_log", "meta"} {
			if !db.Gorm().Migrator().HasTable(table) {
				t.Errorf("table %s missing after migration", table)
			}
		}
	})
}

func TestMigrationsAreOrderedAndDialectSpecific(t *testing.T) {
	for _, d := range storetest.Dialects {
		ms, err := store.Migrations(d)
		if err != nil {
			t.Fatal(err)
		}
		versions := make([]int, len(ms))
		for i, m := range ms {
			versions[i] = m.Version
			if m.SQL == "" && m.Step == nil {
				t.Errorf("%s migration %d is empty", d, m.Version)
			}
		}
		if !slices.IsSorted(versions) || versions[0] != 1 {
			t.Errorf("%s versions %v not ascending from 1", d, versions)
		}
	}
}
