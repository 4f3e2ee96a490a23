package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/controlplane/internal/vault/s3test"
)

// targets are the targets every conformance test runs against: a directory and a real
// S3 server.
var targets = []struct {
	name string
	open func(t testing.TB) Target
}{
	{"file", func(t testing.TB) Target { return mustFileTarget(t) }},
	{"s3", func(t testing.TB) Target { return mustS3Target(t, s3test.Start(t)) }},
}

func mustFileTarget(t testing.TB) *FileTarget {
	t.Helper()
	tg, err := OpenTarget(context.Background(), "file://"+filepath.Join(t.TempDir(), "backups"))
	if err != nil {
		t.Fatal(err)
	}
	return tg.(*FileTarget)
}

func mustS3Target(t testing.TB, s *s3test.Server) *S3Target {
	t.Helper()
	tg, err := OpenTargetEnv(context.Background(), s.URL("sproudctl/backups"), s.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return tg.(*S3Target)
}

func keys(objs []Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

func TestTargetConformance(t *testing.T) {
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testTarget(t, tc.open(t))
		})
	}
}

// testTarget holds a Target to the contract the vault relies on.
func testTarget(t *testing.T, tg Target) {
	ctx := context.Background()
	t.Run("get of an absent object is ErrNotFound", func(t *testing.T) {
		if _, err := tg.Get(ctx, "a/none"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get = %v, want ErrNotFound", err)
		}
		if ok, err := tg.Exists(ctx, "a/none"); ok || err != nil {
			t.Fatalf("Exists = %v, %v; want false, nil", ok, err)
		}
	})
	t.Run("put replaces whole", func(t *testing.T) {
		if err := tg.Put(ctx, "r/x", bytes.Repeat([]byte("old"), 1000)); err != nil {
			t.Fatal(err)
		}
		if err := tg.Put(ctx, "r/x", []byte("new")); err != nil {
			t.Fatal(err)
		}
		got, err := tg.Get(ctx, "r/x")
		if err != nil || string(got) != "new" {
			t.Fatalf("Get = %q, %v; want new", got, err)
		}
		if ok, err := tg.Exists(ctx, "r/x"); !ok || err != nil {
			t.Fatalf("Exists = %v, %v", ok, err)
		}
	})
	t.Run("empty object", func(t *testing.T) {
		if err := tg.Put(ctx, "e/empty", nil); err != nil {
			t.Fatal(err)
		}
		got, err := tg.Get(ctx, "e/empty")
		if err != nil || len(got) != 0 {
			t.Fatalf("Get = %q, %v", got, err)
		}
	})
	t.Run("list by prefix, sorted, with sizes", func(t *testing.T) {
		for i, k := range []string{"l/b/2", "l/a/1", "l/b/10", "l/bb", "lx/1"} {
			if err := tg.Put(ctx, k, bytes.Repeat([]byte{'x'}, i+1)); err != nil {
				t.Fatal(err)
			}
		}
		objs, err := tg.List(ctx, "l/b")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"l/b/10", "l/b/2", "l/bb"}, keys(objs)); diff != "" {
			t.Fatalf("List(l/b) (-want +got):\n%s", diff)
		}
		if objs[0].Size != 3 || objs[0].Modified.IsZero() {
			t.Fatalf("List(l/b)[0] = %+v, want size 3 and a time", objs[0])
		}
		objs, err = tg.List(ctx, "l/")
		if err != nil || len(objs) != 4 {
			t.Fatalf("List(l/) = %v, %v; want 4 objects", keys(objs), err)
		}
		if objs, err := tg.List(ctx, "nothing/"); err != nil || len(objs) != 0 {
			t.Fatalf("List(nothing/) = %v, %v", keys(objs), err)
		}
	})
	t.Run("delete, and delete of an absent object", func(t *testing.T) {
		if err := tg.Put(ctx, "d/x", []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := tg.Delete(ctx, "d/x"); err != nil {
			t.Fatal(err)
		}
		if err := tg.Delete(ctx, "d/x"); err != nil {
			t.Fatalf("second Delete = %v, want success", err)
		}
		if _, err := tg.Get(ctx, "d/x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after Delete = %v", err)
		}
		if objs, _ := tg.List(ctx, "d/"); len(objs) != 0 {
			t.Fatalf("List after Delete = %v", keys(objs))
		}
	})
	t.Run("keys that escape are refused", func(t *testing.T) {
		for _, k := range []string{"", "/abs", "a/../../b", "a//b", "./a", "a/.tmp-x", `a\b`} {
			if err := tg.Put(ctx, k, []byte("x")); err == nil {
				t.Errorf("Put(%q) succeeded", k)
			}
			if _, err := tg.Get(ctx, k); err == nil || errors.Is(err, ErrNotFound) {
				t.Errorf("Get(%q) = %v, want an invalid-key error", k, err)
			}
		}
	})
	t.Run("a canceled context stops a put", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := tg.Put(cctx, "c/x", []byte("x")); err == nil {
			t.Fatal("Put with a canceled context succeeded")
		}
		if ok, _ := tg.Exists(ctx, "c/x"); ok {
			t.Fatal("the canceled Put stored its object")
		}
	})
}

func TestFileTargetLeavesNoTempFilesAndNoEmptyDirs(t *testing.T) {
	tg := mustFileTarget(t)
	ctx := context.Background()
	for i := range 20 {
		if err := tg.Put(ctx, fmt.Sprintf("instances/i/chunks/%02d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		if err := tg.Delete(ctx, fmt.Sprintf("instances/i/chunks/%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var left []string
	filepath.WalkDir(tg.root, func(p string, d os.DirEntry, err error) error {
		if p != tg.root {
			left = append(left, p)
		}
		return err
	})
	if len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func TestOpenTargetRefusesBadURLs(t *testing.T) {
	env := func(name string) string {
		return map[string]string{"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}[name]
	}
	for _, u := range []string{
		"", "relative/dir", "file://host/dir", "file://relative", "ftp://x/y", "s3://", "s3://bucket/p",
		"s3://bucket/p?endpoint=ftp://x", "s3://bucket/../x?endpoint=http://127.0.0.1:1",
	} {
		if _, err := OpenTargetEnv(context.Background(), u, env); err == nil {
			t.Errorf("OpenTarget(%q) succeeded", u)
		}
	}
	noCreds := func(string) string { return "" }
	if _, err := OpenTargetEnv(context.Background(), "s3://b/p?endpoint=http://127.0.0.1:1", noCreds); err == nil {
		t.Error("OpenTarget without credentials succeeded")
	}
	// A secret in the URL never reaches the message.
	_, err := OpenTargetEnv(context.Background(), "s3://user:hunter2@/p", env)
	if err == nil || bytes.Contains([]byte(err.Error()), []byte("hunter2")) {
		t.Errorf("OpenTarget error = %v", err)
	}
}
