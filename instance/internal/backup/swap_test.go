package backup_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/instance/internal/backup"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
	"github.com/sproudstack/sproudchat/platform/database"
)

var errCrash = errors.New("crash injected")

// crashAt fails the n-th step (from 0) of a swap or rollback and records the steps.
func crashAt(o backup.Options, n int, steps *[]string) backup.Options {
	return backup.WithFailAt(o, func(step string) error {
		*steps = append(*steps, step)
		if len(*steps)-1 == n {
			return errCrash
		}
		return nil
	})
}

// swapFixture is an instance with data ("old") and a snapshot of another ("new").
func swapFixture(t *testing.T, d database.Dialect) (cur backup.Options, before state, stream []byte, want map[string][]string) {
	t.Helper()
	src := newInstance(t, d)
	src.seed(t, "new")
	stream = mustBackup(t, src.opts, nil)
	want = tables(t, src.opts)
	in := newInstance(t, d)
	in.seed(t, "old")
	// A table of a later sproudchat: a restore of an older snapshot must not keep it.
	if err := in.db.Gorm().Exec("CREATE TABLE newer_feature (id INTEGER PRIMARY KEY)").Error; err != nil {
		t.Fatal(err)
	}
	in.close(t)
	return in.opts, stateOf(t, in.opts), stream, want
}

// TestRestoreCrashConverges: a restore stopped before any step of its swap leaves an
// instance that the next restore brings to the snapshot, and that a rollback brings
// back, byte for byte, to what it was; a rollback stopped at any step converges when
// run again.
func TestRestoreCrashConverges(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d database.Dialect) {
		ctx := context.Background()
		cur, before, stream, want := swapFixture(t, d)
		var all []string
		for n := 0; ; n++ {
			var steps []string
			_, err := backup.Restore(ctx, crashAt(cur, n, &steps), bytes.NewReader(stream))
			if err == nil {
				if n < 3 {
					t.Fatalf("the swap has only %d steps: %v", n, steps)
				}
				all = steps
				if _, err := backup.Rollback(ctx, cur); err != nil {
					t.Fatal(err)
				}
				break
			}
			if !errors.Is(err, errCrash) {
				t.Fatalf("restore crashed at %v: %v", steps, err)
			}
			if _, err := backup.Restore(ctx, cur, bytes.NewReader(stream)); err != nil {
				t.Fatalf("restore again after a crash at %s: %v", steps[n], err)
			}
			if diff := cmp.Diff(want, tables(t, cur)); diff != "" {
				t.Fatalf("after a crash at %s and a second restore (-snapshot +instance):\n%s", steps[n], diff)
			}
			if rolled, err := backup.Rollback(ctx, cur); err != nil || !rolled {
				t.Fatalf("rollback after a crash at %s: %v, %v", steps[n], rolled, err)
			}
			assertState(t, cur, before)

			// The crashed restore rolled back directly, too.
			steps = nil
			if _, err := backup.Restore(ctx, crashAt(cur, n, &steps), bytes.NewReader(stream)); !errors.Is(err, errCrash) {
				t.Fatalf("restore crashing at step %d: %v", n, err)
			}
			if _, err := backup.Rollback(ctx, cur); err != nil {
				t.Fatalf("rollback after a crash at %s: %v", steps[n], err)
			}
			assertState(t, cur, before)
		}
		t.Logf("swap steps: %v", all)

		for n := 0; ; n++ {
			if _, err := backup.Restore(ctx, cur, bytes.NewReader(stream)); err != nil {
				t.Fatal(err)
			}
			var steps []string
			rolled, err := backup.Rollback(ctx, crashAt(cur, n, &steps))
			if err == nil {
				if !rolled {
					t.Fatal("nothing rolled back after a restore")
				}
				assertState(t, cur, before)
				break
			}
			if !errors.Is(err, errCrash) {
				t.Fatalf("rollback crashed at %v: %v", steps, err)
			}
			if _, err := backup.Rollback(ctx, cur); err != nil {
				t.Fatalf("rollback again after a crash at %s: %v", steps[n], err)
			}
			assertState(t, cur, before)
		}
	})
}

// TestCommitAndRollback: rollback after a restore puts the previous data back exactly;
// commit deletes it, after which there is nothing to roll back; both are no-ops
// without a restore.
func TestCommitAndRollback(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d database.Dialect) {
		ctx := context.Background()
		cur, before, stream, want := swapFixture(t, d)
		if rolled, err := backup.Rollback(ctx, cur); err != nil || rolled {
			t.Fatalf("rollback without a restore: %v, %v", rolled, err)
		}
		if committed, err := backup.Commit(ctx, cur); err != nil || committed {
			t.Fatalf("commit without a restore: %v, %v", committed, err)
		}
		assertState(t, cur, before)

		if _, err := backup.Restore(ctx, cur, bytes.NewReader(stream)); err != nil {
			t.Fatal(err)
		}
		if rolled, err := backup.Rollback(ctx, cur); err != nil || !rolled {
			t.Fatalf("rollback: %v, %v", rolled, err)
		}
		assertState(t, cur, before)

		if _, err := backup.Restore(ctx, cur, bytes.NewReader(stream)); err != nil {
			t.Fatal(err)
		}
		if committed, err := backup.Commit(ctx, cur); err != nil || !committed {
			t.Fatal(committed, err)
		}
		left, _ := os.ReadDir(filepath.Join(cur.DataDir, ".restore"))
		if len(left) != 0 {
			t.Fatalf("commit left %v in .restore", left)
		}
		if rolled, err := backup.Rollback(ctx, cur); err != nil || rolled {
			t.Fatalf("rollback after commit: %v, %v", rolled, err)
		}
		if diff := cmp.Diff(want, tables(t, cur)); diff != "" {
			t.Fatalf("after commit and rollback (-snapshot +instance):\n%s", diff)
		}
	})
}

// TestCommitRefusesAnInterruptedSwap: commit does not delete the previous data of a
// swap that stopped halfway.
func TestCommitRefusesAnInterruptedSwap(t *testing.T) {
	ctx := context.Background()
	cur, before, stream, _ := swapFixture(t, database.SQLite)
	var steps []string
	if _, err := backup.Restore(ctx, crashAt(cur, 2, &steps), bytes.NewReader(stream)); !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	if _, err := backup.Commit(ctx, cur); err == nil {
		t.Fatal("commit of an interrupted swap succeeded")
	}
	if _, err := backup.Rollback(ctx, cur); err != nil {
		t.Fatal(err)
	}
	assertState(t, cur, before)
}

// TestRollbackIntoEmpty: rolling back a restore into an instance that had no data
// removes what the restore put there, wherever it crashed.
func TestRollbackIntoEmpty(t *testing.T) {
	ctx := context.Background()
	_, _, stream, _ := swapFixture(t, database.SQLite)
	empty := emptyOptions(t, database.SQLite)
	for n := 0; ; n++ {
		var steps []string
		_, err := backup.Restore(ctx, crashAt(empty, n, &steps), bytes.NewReader(stream))
		if rolled, rerr := backup.Rollback(ctx, empty); rerr != nil || (err == nil && !rolled) {
			t.Fatalf("rollback after a crash at %v: %v, %v", steps, rolled, rerr)
		}
		if got := files(t, empty.DataDir); len(got) != 0 {
			t.Fatalf("after a restore stopped at step %d (%v) and a rollback the data dir holds %v", n, steps, got)
		}
		if err == nil {
			break
		}
	}
}
