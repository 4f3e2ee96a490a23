package vault

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/platform/snapshot"
)

// testInstance is a small real instance's data: a SQLite database and attachments.
type testInstance struct {
	db    entry
	blobs []entry
}

func mustTestInstance(t *testing.T) testInstance {
	t.Helper()
	db, _ := mustTicketsDB(t, 300)
	return testInstance{
		db:    fileEntry(t, vacuumInto(t, db)),
		blobs: []entry{bytesEntry([]byte(secretAttachment)), randomEntry(7, 3<<20), bytesEntry(nil)},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			in := mustTestInstance(t)
			cp := mustIdentity(t)
			v := newVault(tc.open(t), clock.NewFake(t0), cp)
			res, err := v.Write(ctx, source("inst-1"), "b1", "", streamOf(t, in.db, in.blobs, nil))
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if res.AddedObjects != res.Objects || res.AddedBytes != res.SizeBytes || res.Objects < 4 {
				t.Errorf("first backup result = %+v objects; want every object added", res)
			}
			var out bytes.Buffer
			m, err := v.Read(ctx, "inst-1", "b1", &out)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			h, got := readStream(t, &out)
			if diff := cmp.Diff(want(in.db, in.blobs), got); diff != "" {
				t.Errorf("restored entries (-want +got):\n%s", diff)
			}
			if h.SchemaVersion != 7 || h.Rows["tickets"] != 1 || !h.TakenAt.Equal(t0) {
				t.Errorf("restored header = %+v", h)
			}
			if m.Secrets["SPROUDCHAT_SECRET_KEY"] != "k-inst-1" || m.Slug != "acme" || m.BackupID != "b1" || !m.TakenAt.Equal(t0) {
				t.Errorf("manifest = %+v", m)
			}
			known, err := v.Known(ctx, "inst-1", "b1")
			if err != nil {
				t.Fatal(err)
			}
			var wantKnown []string
			for _, b := range in.blobs {
				wantKnown = append(wantKnown, b.sha)
			}
			if diff := cmp.Diff(wantKnown, known); diff != "" {
				t.Errorf("Known (-want +got):\n%s", diff)
			}
			found, err := v.Scan(ctx)
			if err != nil || len(found) != 1 || found[0].InstanceID != "inst-1" || found[0].BackupID != "b1" {
				t.Errorf("Scan = %+v, %v", found, err)
			}
			usage, err := v.Usage(ctx, "inst-1")
			if err != nil || usage < res.SizeBytes {
				t.Errorf("Usage = %d, %v; want at least %d", usage, err, res.SizeBytes)
			}
		})
	}
}

func TestNothingReadableAtRest(t *testing.T) {
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			in := mustTestInstance(t)
			tg := tc.open(t)
			v := newVault(tg, clock.NewFake(t0), mustIdentity(t))
			if _, err := v.Write(ctx, source("inst-1"), "b1", "", streamOf(t, in.db, in.blobs, nil)); err != nil {
				t.Fatal(err)
			}
			objs := objectsAt(t, tg)
			if len(objs) < 4 {
				t.Fatalf("only %d objects stored", len(objs))
			}
			for _, o := range objs {
				body, err := tg.Get(ctx, o.Key)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range []string{"SQLite format 3", secretSubject, secretAttachment, "k-inst-1", "SPROUDCHAT_SECRET_KEY", in.db.sha} {
					if bytes.Contains(body, []byte(s)) {
						t.Errorf("object %s shows %q", o.Key, s)
					}
				}
				for _, b := range in.blobs {
					if strings.Contains(o.Key, b.sha) {
						t.Errorf("object name %s shows a blob's SHA-256", o.Key)
					}
				}
			}
		})
	}
}

func TestSecondBackupOfUnchangedDataAddsAlmostNothing(t *testing.T) {
	ctx := context.Background()
	in := mustTestInstance(t)
	v := newVault(mustFileTarget(t), clock.NewFake(t0), mustIdentity(t))
	first, err := v.Write(ctx, source("inst-1"), "b1", "", streamOf(t, in.db, in.blobs, nil))
	if err != nil {
		t.Fatal(err)
	}
	second, err := v.Write(ctx, source("inst-1"), "b2", "b1", streamOf(t, in.db, in.blobs, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first: %d bytes in %d objects; second adds %d bytes in %d objects", first.SizeBytes, first.Objects, second.AddedBytes, second.AddedObjects)
	// Only what differs in its manifest (the backup id, the time): a couple of small
	// objects, a fraction of a percent of the data.
	if second.AddedObjects > 3 || second.AddedBytes*200 > first.SizeBytes {
		t.Errorf("second backup added %d bytes in %d objects; want only its manifest", second.AddedBytes, second.AddedObjects)
	}
	if second.SizeBytes*100 < first.SizeBytes*99 || second.Objects < first.Objects-1 || second.Objects > first.Objects+1 {
		t.Errorf("second backup references %d bytes in %d objects; the first %d in %d", second.SizeBytes, second.Objects, first.SizeBytes, first.Objects)
	}
}

func TestBlobsOmittedFromTheStreamComeFromThePreviousBackup(t *testing.T) {
	ctx := context.Background()
	in := mustTestInstance(t)
	v := newVault(mustFileTarget(t), clock.NewFake(t0), mustIdentity(t))
	if _, err := v.Write(ctx, source("inst-1"), "b1", "", streamOf(t, in.db, in.blobs, nil)); err != nil {
		t.Fatal(err)
	}
	known, err := v.Known(ctx, "inst-1", "b1")
	if err != nil {
		t.Fatal(err)
	}
	omit := map[string]bool{}
	for _, k := range known {
		omit[k] = true
	}
	newBlob := bytesEntry([]byte("a new attachment"))
	blobs := append(append([]entry(nil), in.blobs...), newBlob)

	// Without a previous backup, an omitted blob is an error and leaves no manifest.
	if _, err := v.Write(ctx, source("inst-1"), "bad", "", streamOf(t, in.db, blobs, omit)); !errors.Is(err, snapshot.ErrInvalid) {
		t.Fatalf("Write omitting blobs without a previous backup = %v, want snapshot.ErrInvalid", err)
	}
	if _, err := v.Manifest(ctx, "inst-1", "bad"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("failed Write left a manifest: %v", err)
	}

	res, err := v.Write(ctx, source("inst-1"), "b2", "b1", streamOf(t, in.db, blobs, omit))
	if err != nil {
		t.Fatal(err)
	}
	// The new blob (again: on a file target what the failed Write left is not trusted,
	// no manifest names it), the manifest's changed piece and its top.
	if res.AddedObjects > 3 {
		t.Errorf("second backup added %d objects, want the new blob and the manifest", res.AddedObjects)
	}
	var out bytes.Buffer
	if _, err := v.Read(ctx, "inst-1", "b2", &out); err != nil {
		t.Fatal(err)
	}
	_, got := readStream(t, &out)
	if diff := cmp.Diff(want(in.db, blobs), got); diff != "" {
		t.Errorf("restored entries (-want +got):\n%s", diff)
	}
}
