package backup_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/instance/internal/backup"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
	"github.com/sproudstack/sproudchat/platform/database"
	"github.com/sproudstack/sproudchat/platform/snapshot"
)

// TestRoundTrip: a backup restored into an empty instance is the source, table for
// table, row for row, blob for blob; the result line counts what was restored.
func TestRoundTrip(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d database.Dialect) {
		src := newInstance(t, d)
		src.seed(t, "one")
		stream := mustBackup(t, src.opts, nil)
		dst := emptyOptions(t, d)
		res, err := backup.Restore(context.Background(), dst, bytes.NewReader(stream))
		if err != nil {
			t.Fatalf("restore: %v", err)
		}
		want := tables(t, src.opts)
		if diff := cmp.Diff(want, tables(t, dst)); diff != "" {
			t.Fatalf("restored tables differ (-source +restored):\n%s", diff)
		}
		if diff := cmp.Diff(blobs(t, src.opts.DataDir), blobs(t, dst.DataDir)); diff != "" || len(blobs(t, dst.DataDir)) != 3 {
			t.Fatalf("restored blobs differ (-source +restored):\n%s", diff)
		}
		rows := 0
		for _, r := range want {
			rows += len(r)
		}
		if res.Tables != len(want) || res.Rows != int64(rows) || res.Blobs != 3 || res.Bytes <= 0 {
			t.Fatalf("result %+v, want %d tables, %d rows, 3 blobs", res, len(want), rows)
		}
		if committed, err := backup.Commit(context.Background(), dst); err != nil || !committed {
			t.Fatal(committed, err)
		}
		if left, _ := os.ReadDir(filepath.Join(src.opts.DataDir, ".backup")); len(left) != 0 {
			t.Fatalf("the backup left temporary files: %v", left)
		}
	})
}

// TestBackupUnderWrites: visitors and agents keep writing while the backup runs. Every
// message and ticket acknowledged before the backup began is in the restored copy, and
// no restored row differs from the source's.
func TestBackupUnderWrites(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d database.Dialect) {
		ctx := context.Background()
		src := newInstance(t, d)
		src.seed(t, "seed")
		var convs []int64
		for i := range 4 {
			c, _, err := src.chat.Start(ctx, fmt.Sprintf("Visitor %d", i), "", "https://shop.example")
			if err != nil {
				t.Fatal(err)
			}
			convs = append(convs, c.ID)
		}
		var (
			started   atomic.Bool
			stop      = make(chan struct{})
			mu        sync.Mutex
			ackedMsgs []string // client ids acknowledged before the backup began
			ackedTkts []int64
			acks      = make(chan struct{}, 1024)
			wg        sync.WaitGroup
			failed    = make(chan error, 8)
		)
		ack := func(msg string, tkt int64) {
			if started.Load() {
				return
			}
			mu.Lock()
			if msg != "" {
				ackedMsgs = append(ackedMsgs, msg)
			} else {
				ackedTkts = append(ackedTkts, tkt)
			}
			mu.Unlock()
			select {
			case acks <- struct{}{}:
			default:
			}
		}
		for w, conv := range convs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("w%d-%d", w, k)
					if _, err := src.chat.Send(ctx, conv, chat.Visitor, nil, "message "+id, id); err != nil {
						failed <- err
						return
					}
					ack(id, 0)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				tk, err := src.tickets.Create(ctx, &src.admin, tickets.NewTicket{Subject: fmt.Sprintf("under load %d", k), RequesterEmail: "lo@example.org", Body: "body"})
				if err != nil {
					failed <- err
					return
				}
				ack("", tk.ID)
			}
		}()
		for range 40 { // some writes acknowledged before the backup begins
			<-acks
		}
		started.Store(true)
		stream := mustBackup(t, src.opts, nil)
		close(stop)
		wg.Wait()
		close(failed)
		for err := range failed {
			t.Fatal(err)
		}

		dst := emptyOptions(t, d)
		if _, err := backup.Restore(ctx, dst, bytes.NewReader(stream)); err != nil {
			t.Fatalf("restore: %v", err)
		}
		got, source := tables(t, dst), tables(t, src.opts)
		all := strings.Join(got["chat_messages"], "\n")
		for _, id := range ackedMsgs {
			if !strings.Contains(all, "client_id="+id+"|") {
				t.Fatalf("message %s was acknowledged before the backup began but is not restored", id)
			}
		}
		all = strings.Join(got["tickets"], "\n")
		for _, id := range ackedTkts {
			if !strings.Contains(all, fmt.Sprintf("id=%d|", id)) {
				t.Fatalf("ticket %d was acknowledged before the backup began but is not restored", id)
			}
		}
		t.Logf("%d messages and %d tickets acknowledged before the backup; %d messages restored", len(ackedMsgs), len(ackedTkts), len(got["chat_messages"]))
		// Writers only add rows, but for the conversations' counters and the full-text
		// indexes' segments (merged as they grow): every other restored row is one of the
		// source's, unchanged.
		for table, rows := range got {
			if table == "chat_conversations" || strings.Contains(table, "_fts") {
				continue
			}
			for _, r := range rows {
				if _, found := slices.BinarySearch(source[table], r); !found {
					t.Fatalf("restored %s row is not in the source: %s", table, r)
				}
			}
		}
		if diff := cmp.Diff(blobs(t, src.opts.DataDir), blobs(t, dst.DataDir)); diff != "" {
			t.Fatalf("restored blobs differ (-source +restored):\n%s", diff)
		}
	})
}

// TestBackupKnownOmitsBlobs: --known lists blobs the receiver has: the header still
// lists every blob, the stream carries exactly the others.
func TestBackupKnownOmitsBlobs(t *testing.T) {
	src := newInstance(t, database.SQLite)
	src.seed(t, "k")
	full := mustBackup(t, src.opts, nil)
	r, err := snapshot.NewReader(bytes.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	all := r.Header.Blobs
	if len(all) != 3 {
		t.Fatalf("%d blobs in the header, want 3", len(all))
	}
	known := map[string]bool{all[0].SHA256: true, all[2].SHA256: true}
	stream := mustBackup(t, src.opts, known)
	r, err = snapshot.NewReader(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(all, r.Header.Blobs); diff != "" {
		t.Fatalf("header blobs (-full +with known):\n%s", diff)
	}
	var carried []string
	for {
		e, cr, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, cr); err != nil {
			t.Fatal(err)
		}
		if e.Kind == snapshot.KindBlob {
			carried = append(carried, e.SHA256)
		}
	}
	if diff := cmp.Diff([]string{all[1].SHA256}, carried); diff != "" {
		t.Fatalf("blobs carried (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]snapshot.File{all[0], all[2]}, r.Missing()); diff != "" {
		t.Fatalf("blobs omitted (-want +got):\n%s", diff)
	}
}

// flip changes one byte of the stream inside the first occurrence of marker.
func flip(t *testing.T, stream []byte, marker string, off int) []byte {
	t.Helper()
	i := bytes.Index(stream, []byte(marker))
	if i < 0 {
		t.Fatalf("%q is not in the stream", marker)
	}
	out := slices.Clone(stream)
	out[i+off] ^= 0x01
	return out
}

// cut returns stream up to marker (and its first byte), which must be in it.
func cut(t *testing.T, stream []byte, marker string) []byte {
	t.Helper()
	i := bytes.Index(stream, []byte(marker))
	if i < 0 {
		t.Fatalf("%q is not in the stream", marker)
	}
	return slices.Clone(stream[:i+1])
}

// TestRestoreRefuses: a stream that is damaged, incomplete, newer or inconsistent is
// refused, and the instance's data stays byte for byte what it was.
func TestRestoreRefuses(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d database.Dialect) {
		ctx := context.Background()
		src := newInstance(t, d)
		src.seed(t, "new")
		stream := mustBackup(t, src.opts, nil)
		r, _ := snapshot.NewReader(bytes.NewReader(stream))
		first := r.Header.Blobs[0].SHA256
		dbMarker, dbOff := "SQLite format 3\x00", 200
		if d == database.Postgres {
			dbMarker, dbOff = "PGDMP", 40
		}

		cur := newInstance(t, d)
		cur.seed(t, "old")
		cur.close(t)
		before := stateOf(t, cur.opts)

		cases := []struct {
			name   string
			stream []byte
			err    error
			msg    string
		}{
			{"a byte of the database changed", flip(t, stream, dbMarker, dbOff), snapshot.ErrInvalid, "SHA-256"},
			{"a byte of a blob changed", flip(t, stream, "attachment new 1", 3), snapshot.ErrInvalid, "SHA-256"},
			{"a blob missing", mustBackup(t, src.opts, map[string]bool{first: true}), snapshot.ErrInvalid, "lacks 1"},
			// What a vault Read that finds an altered object writes: a stream cut short.
			{"the stream ends early", cut(t, stream, "attachment new 1"), snapshot.ErrInvalid, "ends early"},
			{"a newer schema", rewrite(t, stream, func(h *snapshot.Header, db []byte) []byte {
				h.SchemaVersion += 1
				return db
			}), backup.ErrRefused, "newer sproudchat"},
			{"row counts differ from the header", rewrite(t, stream, func(h *snapshot.Header, db []byte) []byte {
				h.Rows["tickets"]++
				return db
			}), backup.ErrRefused, "table tickets has 3 rows, the header says 4"},
			{"not a snapshot", []byte("hello"), snapshot.ErrInvalid, ""},
			{"a snapshot of the other database", rewrite(t, stream, func(h *snapshot.Header, db []byte) []byte {
				h.Dialect = map[string]string{snapshot.DialectSQLite: snapshot.DialectPostgres, snapshot.DialectPostgres: snapshot.DialectSQLite}[h.Dialect]
				return db
			}), backup.ErrRefused, "this instance uses"},
		}
		type refusal = struct {
			name   string
			stream []byte
			err    error
			msg    string
		}
		if d == database.SQLite {
			cases = append(cases, refusal{"the database fails integrity_check", rewrite(t, stream, func(h *snapshot.Header, db []byte) []byte {
				return orphanIndex(t, db)
			}), backup.ErrRefused, "integrity check"})
		} else {
			cases = append(cases, refusal{"the dump ends early", rewrite(t, stream, func(h *snapshot.Header, db []byte) []byte {
				return db[:len(db)*3/4]
			}), backup.ErrRefused, "does not read"})
			// Its table of contents and schema version read; the last table's data is
			// damaged: found only while restoring.
			cases = append(cases, refusal{"the dump does not restore", rewrite(t, stream, func(h *snapshot.Header, db []byte) []byte {
				db = slices.Clone(db)
				db[len(db)-30] ^= 0xff
				return db
			}), backup.ErrRefused, "does not restore"})
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := backup.Restore(ctx, cur.opts, bytes.NewReader(c.stream))
				if !errors.Is(err, c.err) || !strings.Contains(fmt.Sprint(err), c.msg) {
					t.Fatalf("restore: %v, want %v with %q", err, c.err, c.msg)
				}
				assertState(t, cur.opts, before)
				if rolled, err := backup.Rollback(ctx, cur.opts); err != nil || rolled {
					t.Fatalf("rollback after a refusal: %v, %v; want nothing to roll back", rolled, err)
				}
				assertState(t, cur.opts, before)
			})
		}
	})
}

// orphanIndex returns the SQLite database db with an index's schema row deleted: its
// pages stay, unused, which PRAGMA integrity_check reports; every table's rows stay.
func orphanIndex(t *testing.T, db []byte) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "broken.db")
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := backup.BreakIndex(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBackupWithoutData: a data dir without a database is an error, and the backup
// creates nothing there.
func TestBackupWithoutData(t *testing.T) {
	o := emptyOptions(t, database.SQLite)
	var out bytes.Buffer
	if _, err := backup.Backup(context.Background(), o, nil, &out); !errors.Is(err, backup.ErrNoData) || out.Len() != 0 {
		t.Fatalf("backup of nothing: %v, %d bytes written", err, out.Len())
	}
	if _, err := os.Stat(o.DataDir); !os.IsNotExist(err) {
		t.Fatalf("the backup created %s", o.DataDir)
	}
}
