package vault

import (
	"bytes"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// Chunk boundaries. A database gets small chunks: one changed page then costs a chunk
// of tens of KiB, not a few percent of the backup (SQLite's free space inside pages cuts
// most of them right after dbChunk.min). Blobs never change — a changed attachment is
// another blob — so they get larger ones, and fewer objects: each object costs a file
// (or a request) at the target. The maximum bounds what one object holds in memory.
var (
	dbChunk = chunking{min: 32 << 10, averageBits: 14} // ~32–48 KiB
	// A blob up to chunkMax is one object; a larger one is cut at 512 KiB–1 MiB.
	blobChunk = chunking{min: 512 << 10, averageBits: 19}
	// Manifest pieces are small: a backup stores the pieces that differ from the last
	// backup's, and a change moves a few lines.
	pieceChunk = chunking{min: 4 << 10, averageBits: 12} // ~4–8 KiB
)

const (
	chunkMax    = 1 << 20
	maxManifest = 256 << 20 // plaintext: ~2 million chunks
	maxTop      = 64 << 20  // a manifest's list of pieces
)

type chunking struct {
	min         uint
	averageBits int
}

// scratch holds buffers of an object's size: what a chunk is read into and compressed
// into, reused instead of allocated (and cleared) for every object.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, chunkMax+chunkMax>>7+512); return &b }}

// sealedScratch holds buffers of a sealed object's size.
var sealedScratch = sync.Pool{New: func() any { b := make([]byte, 0, chunkMax+chunkMax>>6+1024); return &b }}

// codec compresses and encrypts objects. Its encoder and decoder are safe for
// concurrent EncodeAll/DecodeAll.
type codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func newCodec() *codec {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(writers),
		zstd.WithWindowSize(chunkMax), zstd.WithLowerEncoderMem(true))
	if err != nil {
		panic(err) // constant options
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(writers), zstd.WithDecoderMaxMemory(maxManifest),
		zstd.WithDecoderLowmem(true))
	if err != nil {
		panic(err)
	}
	return &codec{enc: enc, dec: dec}
}

// seal compresses plain and encrypts it to r, appending to dst.
func (c *codec) seal(dst, plain []byte, r age.Recipient) ([]byte, error) {
	// Room for an incompressible chunk (zstd's bound), so the encoder never grows it.
	zp := scratch.Get().(*[]byte)
	defer scratch.Put(zp)
	z := c.enc.EncodeAll(plain, (*zp)[:0])
	*zp = z[:0]
	// age adds its header and 16 bytes per 64 KiB piece.
	buf := appendWriter(slices.Grow(dst, len(z)+len(z)>>12+512))
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(z); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf, nil
}

// appendWriter writes by appending to itself.
type appendWriter []byte

func (w *appendWriter) Write(p []byte) (int, error) {
	*w = append(*w, p...)
	return len(p), nil
}

// open reverses seal. A failure is ErrKey when the object is not for id, ErrTampered
// otherwise.
func (c *codec) open(sealed []byte, id age.Identity, limit int) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(sealed), id)
	var nomatch *age.NoIdentityMatchError
	if errors.As(err, &nomatch) {
		return nil, ErrKey
	}
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrTampered)
	}
	// The ciphertext is longer than what it holds: one buffer of its size, no growing.
	z, err := readAll(io.LimitReader(r, int64(limit)+1<<10), len(sealed))
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrTampered)
	}
	plain, err := c.dec.DecodeAll(z, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress: %v: %w", err, ErrTampered)
	}
	if len(plain) > limit {
		return nil, fmt.Errorf("object larger than %d bytes: %w", limit, ErrTampered)
	}
	return plain, nil
}

// readAll is io.ReadAll into a buffer of capacity size (grown only should r hold more).
func readAll(r io.Reader, size int) ([]byte, error) {
	b := make([]byte, 0, size+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// checkChunk tells whether plain is what c names.
func checkChunk(k *dataKey, c Chunk, plain []byte) error {
	if int64(len(plain)) != c.Size || !hmac.Equal([]byte(k.name(plain)), []byte(c.Key)) {
		return fmt.Errorf("chunk %s does not hold what the manifest says: %w", c.Key, ErrTampered)
	}
	return nil
}
