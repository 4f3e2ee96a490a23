package backups_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/controlplane/internal/backups"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/controlplane/internal/store/storetest"
	"github.com/sproudstack/sproudchat/controlplane/internal/vault"
	"github.com/sproudstack/sproudchat/controlplane/internal/vault/s3test"
)

// realVault is the vault on a directory, keyed with the control plane's identity as
// serve makes it (generated once, sealed in the store).
func realVault(t *testing.T, db *store.DB, target vault.Target) *vault.Vault {
	t.Helper()
	ctx := context.Background()
	box, _ := secret.New(make([]byte, 32))
	id, err := backups.Identity(ctx, store.New(db), box)
	if err != nil {
		t.Fatal(err)
	}
	again, err := backups.Identity(ctx, store.New(db), box)
	if err != nil || again.String() != id.String() {
		t.Fatalf("second start: identity %v, %v; want the first one again", again.Recipient(), err)
	}
	other, _ := secret.New(bytes.Repeat([]byte{1}, 32))
	if _, err := backups.Identity(ctx, store.New(db), other); err == nil {
		t.Fatal("the identity opened with another secret key")
	}
	return vault.New(vault.Options{Target: target, Identities: []age.Identity{id}, Recipients: []age.Recipient{id.Recipient()}})
}

// files lists the objects of instance id at the target, without their prefix.
func files(t *testing.T, target vault.Target, id string) []string {
	t.Helper()
	objs, err := target.List(context.Background(), "instances/"+id+"/")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, strings.TrimPrefix(o.Key, "instances/"+id+"/"))
	}
	return out
}

// targets are the real targets: a directory and a real S3 server (versitygw).
func targets(t *testing.T) map[string]func(t *testing.T) vault.Target {
	open := func(t *testing.T, url string, getenv func(string) string) vault.Target {
		target, err := vault.OpenTargetEnv(context.Background(), url, getenv)
		if err != nil {
			t.Fatal(err)
		}
		return target
	}
	return map[string]func(t *testing.T) vault.Target{
		"file": func(t *testing.T) vault.Target { return open(t, "file://"+t.TempDir(), os.Getenv) },
		"s3": func(t *testing.T) vault.Target {
			srv := s3test.Start(t)
			return open(t, srv.URL("backups"), srv.Getenv)
		},
	}
}

// TestWithTheRealVault: backups through the real vault on a directory: taken, listed,
// the second one of unchanged data adding almost nothing, nothing readable at rest,
// restored in place and into a new instance (with the backup's secret key), expired
// and collected, purged to nothing.
func TestWithTheRealVault(t *testing.T) {
	for name, open := range targets(t) {
		t.Run(name, func(t *testing.T) { testWithTheRealVault(t, open(t)) })
	}
}

func testWithTheRealVault(t *testing.T, target vault.Target) {
	ctx := context.Background()
	db := storetest.MustOpen(t, store.SQLite)
	v := realVault(t, db, target)
	e := newEnvWith(t, db, v, nil)
	id := e.create("acme", "starter")
	big := make([]byte, 600<<10)
	rand.Read(big)
	original := data("SQLite format 3 ticket: printer on fire", "attachment text: the invoice", string(big))
	e.tools.set(id, original)

	first := e.backup(id)
	if first.SizeBytes <= 0 || first.AddedBytes <= 0 {
		t.Fatalf("first backup: %d bytes, %d added", first.SizeBytes, first.AddedBytes)
	}
	e.clock.Advance(time.Minute)
	second := e.backup(id)
	if second.AddedBytes*20 > first.AddedBytes {
		t.Errorf("second backup of unchanged data added %d bytes; the first added %d", second.AddedBytes, first.AddedBytes)
	}
	list, err := e.svc.List(ctx, id)
	if err != nil || len(list) != 2 || list[0].ID != second.ID {
		t.Fatalf("list = %+v, %v", list, err)
	}
	for _, f := range files(t, target, id) {
		b, err := target.Get(ctx, "instances/"+id+"/"+f)
		if err != nil {
			t.Fatal(err)
		}
		for _, plain := range []string{"SQLite format 3", "printer on fire", "the invoice"} {
			if bytes.Contains(b, []byte(plain)) {
				t.Errorf("%s holds %q in the clear", f, plain)
			}
		}
	}

	// In place.
	e.tools.set(id, data("changed"))
	if _, err := e.svc.Restore(ctx, id, first.ID, "test"); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if st := e.instance(id).State; st != lifecycle.Active {
		t.Fatalf("after the restore: %s (%s)", st, e.instance(id).LastError)
	}
	if diff := cmp.Diff(original, e.tools.get(id)); diff != "" {
		t.Errorf("restored data (-want +got):\n%s", diff)
	}

	// Into a new instance.
	n, err := e.ctl.NewInstance(lifecycle.CreateRequest{CustomerID: "cus_1", Slug: "copy", Plan: "starter", AdminEmail: "a@example.org", RestoreFrom: second.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ctl.Create(ctx, n, "test", nil); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if st := e.instance(n.Instance.ID).State; st != lifecycle.Active {
		t.Fatalf("new instance: %s (%s)", st, e.instance(n.Instance.ID).LastError)
	}
	if diff := cmp.Diff(original, e.tools.get(n.Instance.ID)); diff != "" {
		t.Errorf("new instance's data (-want +got):\n%s", diff)
	}

	// Expiry: both go, and every chunk with them.
	e.clock.Advance(91 * day)
	if n, err := e.svc.Expire(ctx); err != nil || n != 2 {
		t.Fatalf("expired %d, %v; want 2", n, err)
	}
	for _, f := range files(t, target, id) {
		if strings.HasPrefix(f, "chunks/") || strings.HasPrefix(f, "manifests/") {
			t.Errorf("%s left after every backup expired", f)
		}
	}

	// Purge: nothing of the instance left.
	copyID := n.Instance.ID
	e.backup(copyID)
	if _, err := e.svc.Purge(ctx, copyID, "test"); err != nil {
		t.Fatal(err)
	}
	if left := files(t, target, copyID); len(left) != 0 {
		t.Errorf("after purge: %v", left)
	}
}
