//go:build !linux

package vault

import (
	"io/fs"
	"os"
	"path/filepath"
)

// syncTree flushes every file and directory under dir, one fsync each (systems without
// syncfs).
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}
