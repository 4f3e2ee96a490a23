package vault

import (
	"context"
	"testing"

	"github.com/sproudstack/sproudchat/platform/clock"
)

// One new ticket in a ~20 MB database: the second backup stores the few chunks around
// the pages SQLite changed, not the database again. The snapshots are real VACUUM INTO
// copies, so the chunker meets SQLite's own page layout.
func TestOneNewRowAddsAFewChunks(t *testing.T) {
	ctx := context.Background()
	db, _ := mustTicketsDB(t, 45_000)
	first := fileEntry(t, vacuumInto(t, db))
	if first.size < 18<<20 {
		t.Fatalf("test database is %d bytes, want ~20 MB", first.size)
	}
	exec(t, db, `INSERT INTO tickets (subject, body, status, created_at) VALUES (?, ?, ?, ?)`,
		"Printer on fire", "The printer in the second floor office is on fire again.", "open", 1_800_000_000)
	second := fileEntry(t, vacuumInto(t, db))
	if second.sha == first.sha {
		t.Fatal("the insert did not change the snapshot")
	}

	v := newVault(mustFileTarget(t), clock.NewFake(t0), mustIdentity(t))
	r1, err := v.Write(ctx, source("inst-1"), "b1", "", streamOf(t, first, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := v.Write(ctx, source("inst-1"), "b2", "b1", streamOf(t, second, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	ratio := float64(r2.AddedBytes) / float64(r1.SizeBytes)
	t.Logf("database %d bytes → first backup %d bytes in %d objects; one new row adds %d bytes in %d objects (%.2f%%)",
		first.size, r1.SizeBytes, r1.Objects, r2.AddedBytes, r2.AddedObjects, 100*ratio)
	if ratio > 0.02 {
		t.Errorf("one new row added %.2f%% of the first backup's bytes, want ≤ 2%%", 100*ratio)
	}
}
