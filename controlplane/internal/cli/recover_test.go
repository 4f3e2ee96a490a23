package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/controlplane/internal/vault"
	"github.com/sproudstack/sproudchat/platform/snapshot"
)

// offlineBackup is a backup written by a control plane whose vault wraps data keys
// for its own identity and the offline recipient, as serve --backup-recipient does.
type offlineBackup struct {
	dir, target, instance, backup string
	db, blob                      []byte
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func writeOfflineBackup(t *testing.T, recipient string) offlineBackup {
	t.Helper()
	dir := t.TempDir()
	target, err := vault.NewFileTarget(dir)
	if err != nil {
		t.Fatal(err)
	}
	own, _ := age.GenerateX25519Identity() // the control plane's: lost with its database
	off, err := age.ParseX25519Recipient(recipient)
	if err != nil {
		t.Fatal(err)
	}
	v := vault.New(vault.Options{Target: target, Identities: []age.Identity{own}, Recipients: []age.Recipient{own.Recipient(), off}})
	b := offlineBackup{dir: dir, target: "file://" + dir, instance: "in0123456789abcdef", backup: "bk0000000000000000abc",
		db: bytes.Repeat([]byte("SQLite format 3\x00 ticket: printer on fire "), 5000), blob: []byte("attachment: invoice 4711")}
	var stream bytes.Buffer
	w, err := snapshot.NewWriter(&stream, snapshot.Header{Dialect: snapshot.DialectSQLite, SchemaVersion: 12,
		TakenAt: time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC), Rows: map[string]int64{"tickets": 1},
		Database: snapshot.File{SHA256: sum(b.db), Size: int64(len(b.db))}, Blobs: []snapshot.File{{SHA256: sum(b.blob), Size: int64(len(b.blob))}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Database(bytes.NewReader(b.db)); err != nil {
		t.Fatal(err)
	}
	if err := w.Blob(sum(b.blob), bytes.NewReader(b.blob)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	src := vault.Source{InstanceID: b.instance, Slug: "acme", Plan: "starter", CustomerID: "cus_1",
		Secrets: map[string]string{"SPROUDCHAT_SECRET_KEY": "k3y-of-acme"}}
	if _, err := v.Write(context.Background(), src, b.backup, "", &stream); err != nil {
		t.Fatalf("write backup: %v", err)
	}
	return b
}

// keygen makes an offline identity with sproudctl and returns its file and recipient.
func keygen(t *testing.T) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "offline.key")
	code, out, stderr := run(nil, "backup", "keygen", "-o", path)
	if code != 0 {
		t.Fatalf("keygen: %d %s", code, stderr)
	}
	return path, strings.TrimSpace(out)
}

// files lists every file under dir with its mode.
func files(t *testing.T, dir string) map[string]fs.FileMode {
	t.Helper()
	out := map[string]fs.FileMode{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			fi, _ := d.Info()
			out[strings.TrimPrefix(p, dir+"/")] = fi.Mode().Perm()
		}
		return err
	})
	return out
}

// TestOfflineRecovery is the README's recovery procedure: with only the offline
// identity and the target (no control plane, no database), scan finds the backup and
// extract writes a snapshot that sproudchat restore reads, whole, and the instance's
// secrets, both readable only by their owner.
func TestOfflineRecovery(t *testing.T) {
	key, recipient := keygen(t)
	b := writeOfflineBackup(t, recipient)
	env := map[string]string{"SPROUDCTL_OUTPUT": "table"} // no server, no token, no data dir

	code, out, stderr := run(env, "backup", "scan", "--target", b.target, "--identity", key, "-o", "json")
	var scan scanList
	if err := json.Unmarshal([]byte(out), &scan); code != 0 || err != nil || len(scan.Items) != 1 {
		t.Fatalf("scan: exit %d %v\n%s%s", code, err, out, stderr)
	}
	if s := scan.Items[0]; s.InstanceID != b.instance || s.BackupID != b.backup || s.Slug != "acme" || s.Files != 2 || s.Error != "" {
		t.Errorf("scan found %+v", s)
	}

	// Without an identity scan still lists what is there, opening nothing.
	code, out, stderr = run(env, "backup", "scan", "--target", b.target)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 2 || len(strings.Fields(lines[0])) != 3 ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), b.instance+" "+b.backup+" ") {
		t.Errorf("scan without an identity: exit %d %s\n%s", code, stderr, out)
	}

	work := t.TempDir()
	snap, secrets := filepath.Join(work, "acme.snapshot"), filepath.Join(work, "acme.env")
	code, _, stderr = run(env, "backup", "extract", "--identity", key, "--target", b.target, "--instance", b.instance,
		"--backup", b.backup, "-o", snap, "--secrets-to", secrets)
	if code != 0 {
		t.Fatalf("extract: exit %d %s", code, stderr)
	}
	if diff := cmp.Diff(map[string]fs.FileMode{"acme.snapshot": 0o600, "acme.env": 0o600}, files(t, work)); diff != "" {
		t.Errorf("files written (-want +got):\n%s", diff)
	}
	f, err := os.Open(snap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := snapshot.NewReader(f)
	if err != nil {
		t.Fatalf("the extracted file is not a snapshot: %v", err)
	}
	got := map[string][]byte{}
	for {
		e, body, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if got[e.Name], err = io.ReadAll(body); err != nil {
			t.Fatalf("entry %s: %v", e.Name, err)
		}
	}
	want := map[string][]byte{snapshot.SQLiteName: b.db, snapshot.BlobPrefix + sum(b.blob): b.blob}
	if !cmp.Equal(want, got) || len(r.Missing()) != 0 {
		t.Errorf("extracted entries differ from the backed-up ones (missing %v)", r.Missing())
	}
	if env, _ := os.ReadFile(secrets); string(env) != "SPROUDCHAT_SECRET_KEY=k3y-of-acme\n" {
		t.Errorf("secrets file: %q", env)
	}
	if strings.Contains(stderr, "k3y-of-acme") {
		t.Error("extract printed a secret")
	}

	// To standard output, for a pipe into sproudchat restore --from -.
	code, out, stderr = run(env, "backup", "extract", "--identity", key, "--target", b.target, "--instance", b.instance, "--backup", b.backup, "-o", "-")
	if whole, _ := os.ReadFile(snap); code != 0 || out != string(whole) {
		t.Errorf("extract -o -: exit %d %s; stdout is not the snapshot", code, stderr)
	}
}

// TestOfflineRecoveryRefusals: a wrong identity, a tampered object, an unknown backup
// → a clear error, exit 1, and no file at all (not even a partial one).
func TestOfflineRecoveryRefusals(t *testing.T) {
	key, recipient := keygen(t)
	b := writeOfflineBackup(t, recipient)
	stranger, _ := keygen(t)
	var chunk string
	for p := range files(t, b.dir) {
		if strings.Contains(p, "/chunks/") && chunk == "" {
			chunk = filepath.Join(b.dir, p)
		}
	}
	cases := []struct {
		name, identity, backup string
		tamper                 bool
		want                   string
	}{
		{"an identity it was not encrypted to", stranger, b.backup, false, "cannot be opened with the keys given"},
		{"an unknown backup", key, "bk0000000000000000fff", false, "not found"},
		{"a tampered object", key, b.backup, true, "integrity"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.tamper {
				raw, _ := os.ReadFile(chunk)
				raw[len(raw)/2] ^= 0xff
				os.WriteFile(chunk, raw, 0o600)
			}
			work := t.TempDir()
			code, _, stderr := run(nil, "backup", "extract", "--identity", tc.identity, "--target", b.target, "--instance", b.instance,
				"--backup", tc.backup, "-o", filepath.Join(work, "x.snapshot"), "--secrets-to", filepath.Join(work, "x.env"))
			if code != 1 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want exit 1 and one line with %q", code, stderr, tc.want)
			}
			if left := files(t, work); len(left) != 0 {
				t.Errorf("files left behind: %v", left)
			}
		})
	}
	// An existing output file is never replaced.
	work := t.TempDir()
	out := filepath.Join(work, "keep.snapshot")
	os.WriteFile(out, []byte("mine"), 0o600)
	code, _, stderr := run(nil, "backup", "extract", "--identity", key, "--target", b.target, "--instance", b.instance, "--backup", b.backup, "-o", out)
	if kept, _ := os.ReadFile(out); code != 2 || string(kept) != "mine" || !strings.Contains(stderr, "exists") {
		t.Errorf("extract onto an existing file: exit %d %q, file %q", code, stderr, kept)
	}
}
