package vault

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/platform/clock"
)

// referenced is every chunk object backup backupID needs: its pieces and its data.
func referenced(t *testing.T, v *Vault, id, backupID string) map[string]bool {
	t.Helper()
	top, _, err := v.openTop(context.Background(), id, backupID)
	if err != nil {
		t.Fatal(err)
	}
	m, err := v.Manifest(context.Background(), id, backupID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, c := range top.Pieces {
		out[chunkKey(id, c.Key)] = true
	}
	for _, f := range m.Files {
		for _, c := range f.Chunks {
			out[chunkKey(id, c.Key)] = true
		}
	}
	return out
}

func TestCollectRemovesExactlyTheUnreferencedChunks(t *testing.T) {
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			tg := tc.open(t)
			v := newVault(tg, clock.NewFake(t0), mustIdentity(t))
			db := bytesEntry(bytes.Repeat([]byte("shared database page "), 20_000))
			shared, onlyOld, onlyNew := randomEntry(1, 600<<10), randomEntry(2, 700<<10), randomEntry(3, 500<<10)
			if _, err := v.Write(ctx, source("inst-1"), "old", "", streamOf(t, db, []entry{shared, onlyOld}, nil)); err != nil {
				t.Fatal(err)
			}
			if _, err := v.Write(ctx, source("inst-1"), "new", "", streamOf(t, db, []entry{shared, onlyNew}, nil)); err != nil {
				t.Fatal(err)
			}
			// Another instance's objects are not this Collect's business.
			if _, err := v.Write(ctx, source("inst-2"), "other", "", streamOf(t, db, []entry{onlyOld}, nil)); err != nil {
				t.Fatal(err)
			}
			oldRefs, newRefs := referenced(t, v, "inst-1", "old"), referenced(t, v, "inst-1", "new")
			var wantGone []string
			for k := range oldRefs {
				if !newRefs[k] {
					wantGone = append(wantGone, k)
				}
			}
			slices.Sort(wantGone)
			before := keys(objectsAt(t, tg))

			if err := v.Delete(ctx, "inst-1", "old"); err != nil {
				t.Fatal(err)
			}
			n, size, err := v.Collect(ctx, "inst-1")
			if err != nil {
				t.Fatal(err)
			}
			after := map[string]bool{}
			for _, k := range keys(objectsAt(t, tg)) {
				after[k] = true
			}
			var gone []string
			for _, k := range before {
				if !after[k] && k != manifestKey("inst-1", "old") {
					gone = append(gone, k)
				}
			}
			if diff := cmp.Diff(wantGone, gone); diff != "" {
				t.Fatalf("Collect removed (-want +got):\n%s", diff)
			}
			if n != len(wantGone) || size <= 0 {
				t.Errorf("Collect = %d objects, %d bytes; want %d objects", n, size, len(wantGone))
			}
			var out bytes.Buffer
			if _, err := v.Read(ctx, "inst-1", "new", &out); err != nil {
				t.Fatalf("Read of the kept backup after Collect: %v", err)
			}
			if _, err := v.Read(ctx, "inst-2", "other", &bytes.Buffer{}); err != nil {
				t.Fatalf("Read of the other instance's backup after Collect: %v", err)
			}
			if n, _, err := v.Collect(ctx, "inst-1"); err != nil || n != 0 {
				t.Errorf("second Collect = %d, %v; want nothing left to remove", n, err)
			}
		})
	}
}

func TestWriteAndCollectExcludeEachOther(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	b := mustBackedUp(t, mustFileTarget(t), "inst-1")
	b.v.opts.Clock = clk
	if err := b.v.Delete(ctx, "inst-1", "b1"); err != nil {
		t.Fatal(err)
	}
	// A Write holds the instance (it counts on the chunks it found stored).
	unlock, err := b.v.lock(ctx, "inst-1", lockWrite, "b2")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.v.Collect(ctx, "inst-1"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Collect during a Write = %v, want ErrBusy", err)
	}
	if len(chunkKeys(t, b.tg, "inst-1")) == 0 {
		t.Fatal("Collect deleted chunks while a Write ran")
	}
	// And a Write waits for a running Collect.
	// Nor does a second Write (it could make a second data key).
	if _, err := b.v.Write(ctx, source("inst-1"), "b9", "", streamOf(t, b.in.db, b.in.blobs, nil)); !errors.Is(err, ErrBusy) {
		t.Fatalf("Write during a Write = %v, want ErrBusy", err)
	}
	unlock()
	cUnlock, err := b.v.lock(ctx, "inst-1", lockCollect, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.v.Write(ctx, source("inst-1"), "b3", "", streamOf(t, b.in.db, b.in.blobs, nil)); !errors.Is(err, ErrBusy) {
		t.Fatalf("Write during a Collect = %v, want ErrBusy", err)
	}
	// A crashed Collect's lock stops nothing once it is lockTTL old.
	clk.Advance(lockTTL + time.Minute)
	if _, err := b.v.Write(ctx, source("inst-1"), "b3", "", streamOf(t, b.in.db, b.in.blobs, nil)); err != nil {
		t.Fatalf("Write after a stale Collect lock: %v", err)
	}
	cUnlock()
	if n, _, err := b.v.Collect(ctx, "inst-1"); err != nil || n == 0 {
		t.Fatalf("Collect after the Write = %d, %v; want b1's own chunks gone", n, err)
	}
	objs, _ := b.tg.List(ctx, lockPrefix("inst-1"))
	if len(objs) != 0 {
		t.Fatalf("locks left: %v", keys(objs))
	}
}

func TestPurgeLeavesNoObject(t *testing.T) {
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			tg := tc.open(t)
			b := mustBackedUp(t, tg, "inst-1")
			other := mustBackedUp(t, tg, "inst-2")
			if _, err := b.v.Write(ctx, source("inst-1"), "b2", "b1", streamOf(t, b.in.db, b.in.blobs, nil)); err != nil {
				t.Fatal(err)
			}
			if err := b.v.Purge(ctx, "inst-1"); err != nil {
				t.Fatal(err)
			}
			objs, err := tg.List(ctx, instancePrefix("inst-1"))
			if err != nil || len(objs) != 0 {
				t.Fatalf("after Purge: %v, %v; want no object", keys(objs), err)
			}
			if u, err := b.v.Usage(ctx, "inst-1"); err != nil || u != 0 {
				t.Fatalf("Usage after Purge = %d, %v", u, err)
			}
			if _, err := b.v.Read(ctx, "inst-1", "b1", &bytes.Buffer{}); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Read after Purge = %v, want ErrNotFound", err)
			}
			if _, err := other.v.Read(ctx, "inst-2", "b1", &bytes.Buffer{}); err != nil {
				t.Fatalf("the other instance's backup after Purge: %v", err)
			}
			if err := b.v.Purge(ctx, "inst-1"); err != nil {
				t.Fatalf("second Purge = %v, want success", err)
			}
		})
	}
}

// An operator's offline identity alone reads a backup written with its recipient:
// the recovery path when the control plane and its key are gone.
func TestOfflineIdentityAloneReadsTheBackup(t *testing.T) {
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			tg := tc.open(t)
			in := mustTestInstance(t)
			offline := mustIdentity(t)
			cp := newVault(tg, clock.NewFake(t0), mustIdentity(t), offline.Recipient())
			if _, err := cp.Write(ctx, source("inst-1"), "b1", "", streamOf(t, in.db, in.blobs, nil)); err != nil {
				t.Fatal(err)
			}
			recovery := New(Options{Target: tg, Identities: []age.Identity{offline}})
			found, err := recovery.Scan(ctx)
			if err != nil || len(found) != 1 {
				t.Fatalf("Scan = %v, %v", found, err)
			}
			var out bytes.Buffer
			m, err := recovery.Read(ctx, found[0].InstanceID, found[0].BackupID, &out)
			if err != nil {
				t.Fatalf("Read with the offline identity: %v", err)
			}
			_, got := readStream(t, &out)
			if diff := cmp.Diff(want(in.db, in.blobs), got); diff != "" {
				t.Errorf("restored entries (-want +got):\n%s", diff)
			}
			if m.Secrets["SPROUDCHAT_SECRET_KEY"] != "k-inst-1" {
				t.Errorf("the manifest's secrets = %v", m.Secrets)
			}
			// A vault without recipients reads but never writes.
			before := keys(objectsAt(t, tg))
			if _, err := recovery.Write(ctx, source("inst-1"), "b2", "", streamOf(t, in.db, in.blobs, nil)); err == nil {
				t.Error("a vault without recipients wrote a backup")
			}
			if diff := cmp.Diff(before, keys(objectsAt(t, tg))); diff != "" {
				t.Errorf("a refused Write changed the target (-before +after):\n%s", diff)
			}
		})
	}
}

// When the recipients change, the data key is wrapped again: a new recipient reads
// every backup, old ones included; a removed one reads none.
func TestRecipientsChangeRewrapsTheDataKey(t *testing.T) {
	ctx := context.Background()
	tg := mustFileTarget(t)
	in := mustTestInstance(t)
	cp, first, second := mustIdentity(t), mustIdentity(t), mustIdentity(t)
	if _, err := newVault(tg, clock.NewFake(t0), cp, first.Recipient()).Write(ctx, source("inst-1"), "b1", "", streamOf(t, in.db, in.blobs, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := newVault(tg, clock.NewFake(t0), cp, second.Recipient()).Write(ctx, source("inst-1"), "b2", "b1", streamOf(t, in.db, in.blobs, nil)); err != nil {
		t.Fatal(err)
	}
	only := func(id *age.X25519Identity) *Vault { return New(Options{Target: tg, Identities: []age.Identity{id}}) }
	if _, err := only(second).Read(ctx, "inst-1", "b1", &bytes.Buffer{}); err != nil {
		t.Fatalf("the new recipient cannot read the older backup: %v", err)
	}
	if _, err := only(first).Read(ctx, "inst-1", "b2", &bytes.Buffer{}); !errors.Is(err, ErrKey) {
		t.Fatalf("the removed recipient's Read = %v, want ErrKey", err)
	}
	if _, err := only(cp).Manifest(ctx, "inst-1", "b1"); err != nil {
		t.Fatalf("the control plane's own identity: %v", err)
	}
}

// TestKilledPutsAreSweptFromAFileTarget: the temporary files a process killed during
// a Put leaves in a file target go with the instance's next Collect (except in its
// lock directory, where another operation may be putting its lock) and with a Purge;
// the backup still reads, and another instance's are left alone.
func TestKilledPutsAreSweptFromAFileTarget(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tg, err := NewFileTarget(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := mustBackedUp(t, tg, "inst-1")
	mustBackedUp(t, tg, "inst-2")
	leave := func(rel string) string {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("half an object"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	chunk := leave(chunkPrefix("inst-1") + tmpPrefix + "1")
	manifest := leave(manifestPrefix("inst-1") + tmpPrefix + "2")
	lock := leave(lockPrefix("inst-1") + tmpPrefix + "3")
	other := leave(chunkPrefix("inst-2") + tmpPrefix + "4")
	if _, _, err := b.v.Collect(ctx, "inst-1"); err != nil {
		t.Fatal(err)
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	type left struct{ Chunk, Manifest, Lock, Other bool }
	if diff := cmp.Diff(left{false, false, true, true}, left{exists(chunk), exists(manifest), exists(lock), exists(other)}); diff != "" {
		t.Errorf("temporary files after Collect (-want +got):\n%s", diff)
	}
	if _, err := b.v.Read(ctx, "inst-1", "b1", &bytes.Buffer{}); err != nil {
		t.Fatalf("the backup after Collect: %v", err)
	}
	if err := b.v.Purge(ctx, "inst-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "instances", "inst-1")); !errors.Is(err, fs.ErrNotExist) {
		entries, _ := os.ReadDir(filepath.Join(dir, "instances", "inst-1"))
		t.Errorf("the instance's directory after Purge: %v %v, want none", err, entries)
	}
	if !exists(other) {
		t.Error("Purge of inst-1 swept inst-2's temporary file")
	}
}
