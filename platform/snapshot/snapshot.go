// Package snapshot is the stream in which an instance's data leaves it and comes back:
// what `sproudchat backup` writes and `sproudchat restore` reads, and what the control
// plane stores (encrypted, chunked) in between. It is a tar stream whose entries come in
// a fixed order:
//
//	snapshot.json      the Header: format, dialect, schema version, row counts, blob list
//	database.sqlite    the SQLite database (a consistent copy) — or database.pgdump,
//	                   pg_dump's custom format, for a PostgreSQL-backed instance
//	blobs/<sha256>     each attachment body, named by its SHA-256
//
// A backup stream may omit blobs the receiver already holds (Header.Blobs still lists
// them); a restore stream carries every blob the header lists. Neither side ever trusts
// a name: entries outside this list are refused.
package snapshot

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// Format is the version of the stream this package reads and writes.
const Format = 1

// Entry names.
const (
	HeaderName   = "snapshot.json"
	SQLiteName   = "database.sqlite"
	PgDumpName   = "database.pgdump"
	BlobPrefix   = "blobs/"
	maxHeaderLen = 64 << 20 // a header lists every blob; 64 MiB is ~500,000 of them
)

// Dialects of the database entry.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// ErrInvalid: the stream is not a snapshot this package understands, or contradicts
// its own header.
var ErrInvalid = errors.New("invalid snapshot stream")

// Header describes the snapshot; it is the stream's first entry.
type Header struct {
	Format        int       `json:"format"`
	Dialect       string    `json:"dialect"`
	SchemaVersion int64     `json:"schema_version"`
	TakenAt       time.Time `json:"taken_at"`
	// Rows counts the rows of every table in the snapshot's database, by table name.
	Rows map[string]int64 `json:"rows"`
	// Database is the size and SHA-256 of the database entry.
	Database File `json:"database"`
	// Blobs lists every attachment body of the instance at snapshot time.
	Blobs []File `json:"blobs"`
}

// File is the size and content hash of one entry.
type File struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// DatabaseName is the entry name of the header's dialect.
func (h Header) DatabaseName() string {
	if h.Dialect == DialectPostgres {
		return PgDumpName
	}
	return SQLiteName
}

var shaPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ValidSHA256 tells whether s is a lower-case hex SHA-256.
func ValidSHA256(s string) bool { return shaPattern.MatchString(s) }

func (h Header) validate() error {
	if h.Format != Format {
		return fmt.Errorf("%w: format %d, this build reads %d", ErrInvalid, h.Format, Format)
	}
	if h.Dialect != DialectSQLite && h.Dialect != DialectPostgres {
		return fmt.Errorf("%w: dialect %q", ErrInvalid, h.Dialect)
	}
	if !ValidSHA256(h.Database.SHA256) || h.Database.Size < 0 {
		return fmt.Errorf("%w: database entry without a valid SHA-256 and size", ErrInvalid)
	}
	seen := make(map[string]bool, len(h.Blobs))
	for _, b := range h.Blobs {
		if !ValidSHA256(b.SHA256) || b.Size < 0 {
			return fmt.Errorf("%w: blob %q", ErrInvalid, b.SHA256)
		}
		if seen[b.SHA256] {
			return fmt.Errorf("%w: blob %s listed twice", ErrInvalid, b.SHA256)
		}
		seen[b.SHA256] = true
	}
	return nil
}

// Writer writes a snapshot stream.
type Writer struct {
	tw     *tar.Writer
	h      Header
	blobs  map[string]int64
	dbDone bool
}

// NewWriter writes h as the stream's first entry. h.Format is set to Format.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	h.Format = Format
	if err := h.validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	sw := &Writer{tw: tar.NewWriter(w), h: h, blobs: make(map[string]int64, len(h.Blobs))}
	for _, bl := range h.Blobs {
		sw.blobs[bl.SHA256] = bl.Size
	}
	if err := sw.entry(HeaderName, int64(len(b)), strings.NewReader(string(b))); err != nil {
		return nil, err
	}
	return sw, nil
}

func (w *Writer) entry(name string, size int64, r io.Reader) error {
	if err := w.tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	n, err := io.Copy(w.tw, io.LimitReader(r, size))
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("write %s: %d of %d bytes: the source ended early", name, n, size)
	}
	return nil
}

// Database writes the database entry: exactly the header's size, from r.
func (w *Writer) Database(r io.Reader) error {
	if w.dbDone {
		return errors.New("snapshot: database written twice")
	}
	w.dbDone = true
	return w.entry(w.h.DatabaseName(), w.h.Database.Size, r)
}

// Blob writes one blob the header lists.
func (w *Writer) Blob(sha string, r io.Reader) error {
	size, ok := w.blobs[sha]
	if !ok {
		return fmt.Errorf("snapshot: blob %s is not in the header", sha)
	}
	if !w.dbDone {
		return errors.New("snapshot: blobs come after the database")
	}
	delete(w.blobs, sha)
	return w.entry(BlobPrefix+sha, size, r)
}

// Close ends the stream (it does not close the underlying writer).
func (w *Writer) Close() error {
	if !w.dbDone {
		return errors.New("snapshot: closed before the database was written")
	}
	return w.tw.Close()
}

// Kind is what an entry holds.
type Kind int

// Entry kinds after the header.
const (
	KindDatabase Kind = iota + 1
	KindBlob
)

// Entry is one entry after the header.
type Entry struct {
	Kind   Kind
	Name   string
	SHA256 string // the header's hash of the entry
	Size   int64
}

// Reader reads a snapshot stream. Every entry's content is checked against the
// header's size and SHA-256 as it is read: the reader returned by Next fails with
// ErrInvalid at its end when the content differs.
type Reader struct {
	Header Header
	tr     *tar.Reader
	blobs  map[string]int64
	seen   map[string]bool
	dbDone bool
}

// NewReader reads and checks the header.
func NewReader(r io.Reader) (*Reader, error) {
	tr := tar.NewReader(r)
	th, err := tr.Next()
	if err != nil {
		return nil, fmt.Errorf("%w: no header: %v", ErrInvalid, err)
	}
	if th.Name != HeaderName || th.Size > maxHeaderLen {
		return nil, fmt.Errorf("%w: the first entry is %q, not %s", ErrInvalid, th.Name, HeaderName)
	}
	var h Header
	dec := json.NewDecoder(io.LimitReader(tr, th.Size))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrInvalid, err)
	}
	if err := h.validate(); err != nil {
		return nil, err
	}
	sr := &Reader{Header: h, tr: tr, blobs: make(map[string]int64, len(h.Blobs)), seen: map[string]bool{}}
	for _, b := range h.Blobs {
		sr.blobs[b.SHA256] = b.Size
	}
	return sr, nil
}

// Next returns the next entry and its content, checked as it is read; io.EOF at the
// end of the stream. The content must be read to its end before the next call.
func (r *Reader) Next() (Entry, io.Reader, error) {
	th, err := r.tr.Next()
	if err == io.EOF {
		if !r.dbDone {
			return Entry{}, nil, fmt.Errorf("%w: the stream has no database", ErrInvalid)
		}
		return Entry{}, nil, io.EOF
	}
	if err != nil {
		return Entry{}, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if th.Typeflag != tar.TypeReg {
		return Entry{}, nil, fmt.Errorf("%w: entry %q is not a regular file", ErrInvalid, th.Name)
	}
	var e Entry
	switch {
	case th.Name == r.Header.DatabaseName() && !r.dbDone:
		r.dbDone = true
		e = Entry{Kind: KindDatabase, Name: th.Name, SHA256: r.Header.Database.SHA256, Size: r.Header.Database.Size}
	case strings.HasPrefix(th.Name, BlobPrefix) && r.dbDone:
		sha := strings.TrimPrefix(th.Name, BlobPrefix)
		size, ok := r.blobs[sha]
		if !ok || r.seen[sha] {
			return Entry{}, nil, fmt.Errorf("%w: blob entry %q is not in the header or comes twice", ErrInvalid, th.Name)
		}
		r.seen[sha] = true
		e = Entry{Kind: KindBlob, Name: th.Name, SHA256: sha, Size: size}
	default:
		return Entry{}, nil, fmt.Errorf("%w: unexpected entry %q", ErrInvalid, th.Name)
	}
	if th.Size != e.Size {
		return Entry{}, nil, fmt.Errorf("%w: entry %q has %d bytes, the header says %d", ErrInvalid, th.Name, th.Size, e.Size)
	}
	return e, &checked{r: r.tr, want: e.SHA256, left: e.Size, h: sha256.New(), name: e.Name}, nil
}

// Missing lists the header's blobs the stream has not carried so far (after io.EOF:
// the blobs it omitted).
func (r *Reader) Missing() []File {
	var out []File
	for _, b := range r.Header.Blobs {
		if !r.seen[b.SHA256] {
			out = append(out, b)
		}
	}
	return out
}

// checked hashes what passes through and fails at the end when the hash differs.
type checked struct {
	r io.Reader
	h interface {
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
	want string
	left int64
	name string
	done bool
}

func (c *checked) Read(p []byte) (int, error) {
	if c.left == 0 {
		if !c.done {
			c.done = true
			if got := hex.EncodeToString(c.h.Sum(nil)); got != c.want {
				return 0, fmt.Errorf("%w: %s has SHA-256 %s, the header says %s", ErrInvalid, c.name, got, c.want)
			}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.left -= int64(n)
	if (err == io.EOF || err == io.ErrUnexpectedEOF) && c.left > 0 {
		return n, fmt.Errorf("%w: %s ends early", ErrInvalid, c.name)
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}
