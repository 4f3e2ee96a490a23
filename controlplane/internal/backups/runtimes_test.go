package backups_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/controlplane/internal/store/storetest"
	"github.com/sproudstack/sproudchat/controlplane/internal/vault"
	"github.com/sproudstack/sproudchat/provisioning"
	"github.com/sproudstack/sproudchat/provisioning/docker"
	"github.com/sproudstack/sproudchat/provisioning/process"
	"github.com/sproudstack/sproudchat/provisioning/runtimetest"
)

// realRuntime is a real runtime for the end-to-end tests; blobDir, when set, says where
// an instance's attachment bodies are on this host (the process runtime's data dir).
type realRuntime struct {
	runtimeTools
	blobDir func(id string) string
}

// realRuntimes are the real runtimes: the process runtime with the real sproudchat
// binary and the docker runtime with its image.
func realRuntimes() map[string]func(t *testing.T) realRuntime {
	return map[string]func(t *testing.T) realRuntime{
		"process": func(t *testing.T) realRuntime {
			root := filepath.Join(t.TempDir(), "runtime")
			rt, err := process.New(process.Options{Binary: runtimetest.Binary(t), Dir: root})
			if err != nil {
				t.Fatal(err)
			}
			cleanUp(t, rt, rt.Close)
			return realRuntime{rt, func(id string) string { return filepath.Join(root, "instances", id, "data", "attachments") }}
		},
		"docker": func(t *testing.T) realRuntime {
			runtimetest.RequireDocker(t, docker.Ping)
			runtimetest.Image(t)
			rt, err := docker.New(docker.Options{Owner: "bk-" + secret.Random(4), SecretsDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			cleanUp(t, rt, func() { rt.Close() })
			return realRuntime{runtimeTools: rt}
		},
	}
}

// cleanUp destroys every instance of rt when the test ends, then closes it.
func cleanUp(t *testing.T, rt provisioning.Runtime, closeRT func()) {
	t.Cleanup(func() {
		all, _ := rt.List(context.Background())
		for _, st := range all {
			rt.Destroy(context.Background(), st.ID)
		}
		closeRT()
	})
}

// setUp makes the instance's first admin through its API.
func (e *env) setUp(id string) {
	e.t.Helper()
	inst := e.instance(id)
	spec, err := e.specs.Spec(context.Background(), inst, provisioning.ModeActive)
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"token": spec.Secrets["SPROUDCHAT_SETUP_TOKEN"], "name": "Ada", "email": "ada@example.org",
		"password": "correct horse battery staple"})
	res, err := http.Post("http://"+inst.Upstream+"/api/v1/setup", "application/json", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		e.t.Fatalf("setup: %s", res.Status)
	}
}

// logIn returns the status of the first admin's login to instance id.
func (e *env) logIn(id string) int {
	e.t.Helper()
	body, _ := json.Marshal(map[string]string{"email": "ada@example.org", "password": "correct horse battery staple"})
	res, err := http.Post("http://"+e.instance(id).Upstream+"/api/v1/session", "application/json", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func blobPath(dir, sum string) string { return filepath.Join(dir, sum[:2], sum[2:4], sum) }

// TestOnRealRuntimes: end to end with the real binary on each runtime and the real
// vault: a backup of a running instance; restored in place (on the process runtime, an
// attachment deleted since comes back; the admin can log in); the instance destroyed
// and made again from its backup, with its data and secret key; a drill of the copy
// passes and leaves no scratch instance.
func TestOnRealRuntimes(t *testing.T) {
	for name, open := range realRuntimes() {
		t.Run(name, func(t *testing.T) { testOnRealRuntime(t, open(t)) })
	}
}

func testOnRealRuntime(t *testing.T, rt realRuntime) {
	ctx := context.Background()
	target, err := vault.OpenTarget(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.MustOpen(t, store.SQLite)
	e := newEnvWith(t, db, realVault(t, db, target), rt)
	id := e.create("acme-"+secret.Random(3), "starter")
	e.setUp(id)
	const attachment = "an attachment: the signed contract"
	h := sha256.Sum256([]byte(attachment))
	sum := hex.EncodeToString(h[:])
	wantBlobs := 0
	if rt.blobDir != nil {
		p := blobPath(rt.blobDir(id), sum)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(attachment), 0o600); err != nil {
			t.Fatal(err)
		}
		wantBlobs = 1
	}
	b := e.backup(id)
	m, err := e.v.Manifest(ctx, id, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Snapshot.Rows["users"] != 1 || len(m.Snapshot.Blobs) != wantBlobs {
		t.Fatalf("manifest: %d users, blobs %+v; want 1 and %d", m.Snapshot.Rows["users"], m.Snapshot.Blobs, wantBlobs)
	}

	// In place.
	if rt.blobDir != nil {
		if err := os.Remove(blobPath(rt.blobDir(id), sum)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.Restore(ctx, id, b.ID, "test"); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if inst := e.instance(id); inst.State != lifecycle.Active {
		t.Fatalf("after the restore: %s (%s)", inst.State, inst.LastError)
	}
	if rt.blobDir != nil {
		if got, err := os.ReadFile(blobPath(rt.blobDir(id), sum)); err != nil || string(got) != attachment {
			t.Errorf("attachment after the restore: %q, %v", got, err)
		}
	}
	if code := e.logIn(id); code != http.StatusOK {
		t.Errorf("log in after the restore: %d", code)
	}

	// Destroyed, then made again from the backup.
	if _, err := e.ctl.Destroy(ctx, id, "", "test"); err != nil {
		t.Fatal(err)
	}
	e.drain()
	n, err := e.ctl.NewInstance(lifecycle.CreateRequest{CustomerID: "cus_1", Slug: e.instance(id).Slug, Plan: "starter", AdminEmail: "a@example.org", RestoreFrom: b.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ctl.Create(ctx, n, "test", nil); err != nil {
		t.Fatal(err)
	}
	e.drain()
	cp := n.Instance.ID
	if inst := e.instance(cp); inst.State != lifecycle.Active {
		t.Fatalf("the copy: %s (%s)", inst.State, inst.LastError)
	}
	if code := e.logIn(cp); code != http.StatusOK {
		t.Errorf("log in to the copy: %d", code)
	}
	if rt.blobDir != nil {
		if _, err := os.Stat(blobPath(rt.blobDir(cp), sum)); err != nil {
			t.Errorf("the copy's attachment: %v", err)
		}
	}

	// A drill of the copy.
	e.backup(cp)
	d, err := e.svc.Drill(ctx, cp)
	if err != nil {
		t.Fatal(err)
	}
	if !d.OK || d.Blobs != wantBlobs || d.Rows == 0 || d.Tables == 0 {
		t.Errorf("drill = %+v; want passed with %d blobs and rows", d, wantBlobs)
	}
	if _, err := rt.Status(ctx, d.ScratchID); !errors.Is(err, provisioning.ErrNotFound) {
		t.Errorf("scratch instance %s left: %v", d.ScratchID, err)
	}
}
