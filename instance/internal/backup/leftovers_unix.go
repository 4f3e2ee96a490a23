//go:build unix

package backup

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// hold locks a backup's temporary dir for as long as the process lives or until
// release: sweep leaves a held dir alone. The kernel drops the lock when the process
// dies, however it dies.
func hold(dir string) (release func()) {
	f, err := os.Open(dir)
	if err != nil {
		return func() {}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return func() {}
	}
	return func() { f.Close() }
}

// sweep removes the temporary dirs of backups whose process died (killed mid-backup,
// they hold a copy of the database): a dir under parent that nobody holds and that is
// older than a minute (a backup just starting takes its lock right after creating it).
func sweep(parent string, now time.Time) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "backup-") {
			continue
		}
		p := filepath.Join(parent, e.Name())
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < time.Minute {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			os.RemoveAll(p)
		}
		f.Close()
	}
}
