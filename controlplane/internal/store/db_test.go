package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
)

// TestSQLiteFilesArePrivate: the database and its -wal and -shm files hold token
// digests and sealed secrets; nobody but the control plane's user may read them, even
// under a permissive umask, and a file an older version left readable is tightened.
func TestSQLiteFilesArePrivate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before func(path string)
	}{
		{"new database", func(string) {}},
		{"database left readable by an older version", func(path string) {
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sproudctl.db")
			tc.before(path)
			db, err := store.Open(context.Background(), "", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			// A write, so the WAL and its index exist.
			if err := store.New(db).CreateToken(context.Background(), &lifecycle.Token{Name: "t", Hash: "h", Scopes: []string{"admin"}, CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatalf("%s: %v", filepath.Base(p), err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s is %v, want -rw-------", filepath.Base(p), fi.Mode().Perm())
				}
			}
		})
	}
}
