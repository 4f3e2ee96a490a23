package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/sproudstack/sproudchat/instance"
)

// Blobs keeps attachment bodies in a directory, each named by its SHA-256: the same file
// uploaded twice is stored once.
type Blobs struct{ dir string }

// NewBlobs returns the blob store in dir.
func NewBlobs(dir string) *Blobs { return &Blobs{dir: dir} }

func (b *Blobs) path(sum string) string { return filepath.Join(b.dir, sum[:2], sum[2:4], sum) }

// Put stores r's content if it is at most max bytes. Returns instance.ErrTooLarge
// (having stored nothing) past the limit. created tells whether the content was new.
func (b *Blobs) Put(r io.Reader, max int64) (sum string, size int64, contentType string, created bool, err error) {
	if err := os.MkdirAll(filepath.Join(b.dir, "tmp"), 0o700); err != nil {
		return "", 0, "", false, err
	}
	tmp, err := os.CreateTemp(filepath.Join(b.dir, "tmp"), "upload-")
	if err != nil {
		return "", 0, "", false, err
	}
	defer os.Remove(tmp.Name()) // after a rename this is a no-op
	h := sha256.New()
	sniff := &headBuffer{max: 512}
	n, err := io.Copy(io.MultiWriter(tmp, h, sniff), io.LimitReader(r, max+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, "", false, fmt.Errorf("store upload: %w", err)
	}
	if n > max {
		return "", 0, "", false, fmt.Errorf("%w: a file may have at most %d bytes", instance.ErrTooLarge, max)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	final := b.path(sum)
	if _, err := os.Stat(final); err == nil {
		return sum, n, http.DetectContentType(sniff.b), false, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return "", 0, "", false, err
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", 0, "", false, err
	}
	return sum, n, http.DetectContentType(sniff.b), true, nil
}

// Open returns a stored body. Returns instance.ErrNotFound when it is missing.
func (b *Blobs) Open(sum string) (*os.File, error) {
	if len(sum) != 64 {
		return nil, instance.ErrNotFound
	}
	f, err := os.Open(b.path(sum))
	if errors.Is(err, os.ErrNotExist) {
		return nil, instance.ErrNotFound
	}
	return f, err
}

// Remove deletes a stored body; a missing one is not an error.
func (b *Blobs) Remove(sum string) error {
	if err := os.Remove(b.path(sum)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// headBuffer keeps the first max bytes written to it, for content sniffing.
type headBuffer struct {
	b   []byte
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
