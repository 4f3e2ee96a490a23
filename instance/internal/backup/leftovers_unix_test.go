//go:build unix

package backup_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/platform/database"
)

// TestBackupSweepsADeadBackupsCopy: a backup killed mid-run leaves its copy of the
// database under .backup/; the next backup removes it — but not the dir of a backup
// still running (it holds a lock), nor one just created.
func TestBackupSweepsADeadBackupsCopy(t *testing.T) {
	src := newInstance(t, database.SQLite)
	src.seed(t, "s")
	parent := filepath.Join(src.opts.DataDir, ".backup")
	mk := func(name string, age time.Duration) string {
		p := filepath.Join(parent, name)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "database.sqlite"), []byte("SQLite format 3\x00 a copy"), 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dead := mk("backup-dead", time.Hour)
	running := mk("backup-running", time.Hour)
	fresh := mk("backup-fresh", 0)
	f, err := os.Open(running)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}

	mustBackup(t, src.opts, nil)

	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the dead backup's copy is still there (%v)", err)
	}
	for _, p := range []string{running, fresh} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(p), err)
		}
	}
	left, _ := os.ReadDir(parent)
	if len(left) != 2 {
		t.Errorf(".backup holds %d entries after the backup, want the running and the fresh one", len(left))
	}
}
