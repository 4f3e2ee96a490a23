package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/platform/snapshot"
)

func runIn(t *testing.T, env map[string]string, stdin io.Reader, args ...string) (int, []byte, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, func(k string) string { return env[k] }, stdin, &out, &errOut)
	return code, out.Bytes(), errOut.String()
}

// TestToolUsage: backup and restore refuse bad usage with exit 2 and the usage, before
// touching anything.
func TestToolUsage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"SPROUDCHAT_DATA_DIR": dir}
	for _, args := range [][]string{
		{"backup"},
		{"backup", "--to"},
		{"backup", "--to", "-", "extra"},
		{"backup", "--frob"},
		{"restore"},
		{"restore", "--from", "-", "--commit"},
		{"restore", "--commit", "--rollback"},
		{"restore", "--from", filepath.Join(dir, "missing")},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, stderr := runIn(t, env, strings.NewReader(""), args...)
			if code != 2 || !strings.Contains(stderr, "usage:") || len(out) != 0 {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 with usage", code, out, stderr)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("bad usage created %s", dir)
			}
		})
	}
	code, _, stderr := runIn(t, env, strings.NewReader("not a sha\n"), "backup", "--to", "-", "--known", "-")
	if code != 2 || !strings.Contains(stderr, "line 1") {
		t.Errorf("bad --known: exit %d, %q", code, stderr)
	}
	code, _, stderr = runIn(t, map[string]string{"SPROUDCHAT_DATA_DIR": dir, "SPROUDCHAT_DATABASE_URL": "mysql://x"}, nil, "restore", "--rollback")
	if code != 2 || !strings.Contains(stderr, "SPROUDCHAT_DATABASE_URL") {
		t.Errorf("bad database URL: exit %d, %q", code, stderr)
	}
}

// TestToolBackupRestore: backup --to - writes only the stream to stdout (its log to
// stderr), needs no secret key, honours --known; restore --from FILE prints one JSON
// result line; an invalid stream exits 2, a newer one 1; commit and rollback report.
func TestToolBackupRestore(t *testing.T) {
	src := map[string]string{"SPROUDCHAT_DATA_DIR": filepath.Join(t.TempDir(), "data"), "SPROUDCHAT_SECRET_KEY": testKey}
	if code, _, stderr := run(t, src, "migrate"); code != 0 {
		t.Fatal(stderr)
	}
	blob := []byte("a file body")
	sum := sha256.Sum256(blob)
	sha := hex.EncodeToString(sum[:])
	p := filepath.Join(src["SPROUDCHAT_DATA_DIR"], "attachments", sha[:2], sha[2:4], sha)
	os.MkdirAll(filepath.Dir(p), 0o700)
	if err := os.WriteFile(p, blob, 0o600); err != nil {
		t.Fatal(err)
	}
	delete(src, "SPROUDCHAT_SECRET_KEY") // the tool runs without secrets

	code, stream, stderr := runIn(t, src, strings.NewReader(sha+"\n"), "backup", "--to", "-", "--known", "-")
	if code != 0 || !strings.Contains(stderr, `"msg":"backup written"`) {
		t.Fatalf("backup with --known: exit %d, %s", code, stderr)
	}
	r := readAll(t, stream)
	if len(r.Header.Blobs) != 1 || len(r.Missing()) != 1 {
		t.Fatalf("backup with the blob known: header %v, omitted %v", r.Header.Blobs, r.Missing())
	}

	code, stream, stderr = runIn(t, src, nil, "backup", "--to", "-")
	if code != 0 {
		t.Fatalf("backup: exit %d, %s", code, stderr)
	}
	if r := readAll(t, stream); len(r.Missing()) != 0 || r.Header.Rows["schema_migrations"] == 0 {
		t.Fatalf("full backup: header %+v, omitted %v", r.Header, r.Missing())
	}
	file := filepath.Join(t.TempDir(), "snap.tar")
	if code, out, stderr := runIn(t, src, nil, "backup", "--to", file); code != 0 || len(out) != 0 {
		t.Fatalf("backup --to FILE: exit %d, stdout %q, %s", code, out, stderr)
	}

	dst := map[string]string{"SPROUDCHAT_DATA_DIR": filepath.Join(t.TempDir(), "data")}
	code, out, stderr := runIn(t, dst, nil, "restore", "--from", file)
	if code != 0 {
		t.Fatalf("restore: exit %d, %s", code, stderr)
	}
	var res map[string]int64
	if err := json.Unmarshal(out, &res); err != nil || res["blobs"] != 1 || res["tables"] == 0 || res["rows"] == 0 || res["bytes"] <= int64(len(blob)) || bytes.Count(out, []byte("\n")) != 1 {
		t.Fatalf("restore output %q: %v", out, err)
	}
	if got, err := os.ReadFile(filepath.Join(dst["SPROUDCHAT_DATA_DIR"], "attachments", sha[:2], sha[2:4], sha)); err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("restored blob: %q, %v", got, err)
	}
	if code, out, _ := runIn(t, dst, nil, "restore", "--commit"); code != 0 || string(out) != "{\"committed\":true}\n" {
		t.Fatalf("commit: exit %d, %q", code, out)
	}
	if code, out, _ := runIn(t, dst, nil, "restore", "--rollback"); code != 0 || string(out) != "{\"rolled_back\":false}\n" {
		t.Fatalf("rollback after commit: exit %d, %q", code, out)
	}

	if code, _, stderr := runIn(t, dst, strings.NewReader("hello"), "restore", "--from", "-"); code != 2 || !strings.Contains(stderr, "invalid snapshot") {
		t.Fatalf("restore of garbage: exit %d, %s", code, stderr)
	}
	var newer bytes.Buffer
	w, err := snapshot.NewWriter(&newer, snapshot.Header{Dialect: snapshot.DialectSQLite, SchemaVersion: 1 << 20,
		Database: snapshot.File{SHA256: strings.Repeat("0", 64)}})
	if err != nil {
		t.Fatal(err)
	}
	w.Database(strings.NewReader(""))
	w.Close()
	if code, _, stderr := runIn(t, dst, &newer, "restore", "--from", "-"); code != 1 || !strings.Contains(stderr, "made by a newer sproudchat") {
		t.Fatalf("restore of a newer snapshot: exit %d, %s", code, stderr)
	}
}

// readAll reads a whole stream and checks nothing but tar's zero padding follows it.
func readAll(t *testing.T, stream []byte) *snapshot.Reader {
	t.Helper()
	br := bytes.NewReader(stream)
	r, err := snapshot.NewReader(br)
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, cr, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, cr); err != nil {
			t.Fatal(err)
		}
	}
	rest, _ := io.ReadAll(br)
	if diff := cmp.Diff(make([]byte, len(rest)), rest); diff != "" {
		t.Fatalf("bytes after the stream's end:\n%s", diff)
	}
	return r
}
