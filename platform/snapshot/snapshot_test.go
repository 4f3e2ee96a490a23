package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func sum(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func write(t *testing.T, db string, blobs map[string]string, omit string) []byte {
	t.Helper()
	h := Header{Dialect: DialectSQLite, SchemaVersion: 3, TakenAt: time.Unix(1, 0).UTC(), Rows: map[string]int64{"tickets": 2},
		Database: File{SHA256: sum(db), Size: int64(len(db))}}
	for _, b := range blobs {
		h.Blobs = append(h.Blobs, File{SHA256: sum(b), Size: int64(len(b))})
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Database(strings.NewReader(db)); err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		if b == omit {
			continue
		}
		if err := w.Blob(sum(b), strings.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(stream []byte) (map[string]string, *Reader, error) {
	r, err := NewReader(bytes.NewReader(stream))
	if err != nil {
		return nil, nil, err
	}
	got := map[string]string{}
	for {
		e, body, err := r.Next()
		if err == io.EOF {
			return got, r, nil
		}
		if err != nil {
			return nil, nil, err
		}
		b, err := io.ReadAll(body)
		if err != nil {
			return nil, nil, err
		}
		got[e.Name] = string(b)
	}
}

func TestRoundTripAndOmittedBlobs(t *testing.T) {
	s := write(t, "SQLite format 3", map[string]string{"a": "hello", "b": "world"}, "world")
	got, r, err := readAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if got[SQLiteName] != "SQLite format 3" || got[BlobPrefix+sum("hello")] != "hello" || len(got) != 2 {
		t.Fatalf("entries = %v", got)
	}
	if m := r.Missing(); len(m) != 1 || m[0].SHA256 != sum("world") {
		t.Fatalf("missing = %v, want the omitted blob", m)
	}
	if r.Header.Rows["tickets"] != 2 || r.Header.SchemaVersion != 3 {
		t.Fatalf("header = %+v", r.Header)
	}
}

func TestTamperedContentIsRefused(t *testing.T) {
	s := write(t, "SQLite format 3", map[string]string{"a": "hello"}, "")
	i := bytes.Index(s, []byte("hello"))
	s[i] = 'j'
	if _, _, err := readAll(s); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid for a changed blob", err)
	}
}

func TestUnexpectedEntriesAreRefused(t *testing.T) {
	if _, err := NewReader(strings.NewReader("not a tar stream at all")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewWriter(io.Discard, Header{Dialect: "mysql"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid for a bad dialect", err)
	}
}
