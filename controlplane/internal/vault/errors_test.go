package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/platform/snapshot"
)

// backedUp is a vault with one backup (b1 of inst-1) written by control-plane identity cp.
type backedUp struct {
	tg Target
	v  *Vault
	in testInstance
}

func mustBackedUp(t *testing.T, tg Target, id string) backedUp {
	t.Helper()
	in := mustTestInstance(t)
	v := newVault(tg, clock.NewFake(t0), mustIdentity(t))
	if _, err := v.Write(context.Background(), source(id), "b1", "", streamOf(t, in.db, in.blobs, nil)); err != nil {
		t.Fatal(err)
	}
	return backedUp{tg: tg, v: v, in: in}
}

// chunkKeys lists the instance's chunk objects.
func chunkKeys(t *testing.T, tg Target, id string) []string {
	t.Helper()
	objs, err := tg.List(context.Background(), chunkPrefix(id))
	if err != nil {
		t.Fatal(err)
	}
	return keys(objs)
}

// TestReadRefusesABrokenBackup: a backup that cannot be read whole fails with the named
// error. One whose manifest, key or objects are missing or not its own writes nothing;
// one with an altered object (found as Read streams) writes a stream cut short, which
// no snapshot reader takes as whole — `sproudchat restore` refuses it and changes
// nothing (instance/internal/backup TestRestoreRefuses, "the stream ends early").
func TestReadRefusesABrokenBackup(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		break_ func(t *testing.T, b backedUp) *Vault // breaks the backup; returns the vault to read with
		want   error
		// partial: found while streaming; what was written must not read as a whole stream.
		partial bool
	}{
		{"tampered chunk", func(t *testing.T, b backedUp) *Vault {
			k := chunkKeys(t, b.tg, "inst-1")[1]
			body, _ := b.tg.Get(ctx, k)
			body[len(body)/2] ^= 1
			mustPut(t, b.tg, k, body)
			return b.v
		}, ErrTampered, true},
		{"chunks swapped", func(t *testing.T, b backedUp) *Vault {
			ks := chunkKeys(t, b.tg, "inst-1")
			x, _ := b.tg.Get(ctx, ks[0])
			y, _ := b.tg.Get(ctx, ks[1])
			mustPut(t, b.tg, ks[0], y)
			mustPut(t, b.tg, ks[1], x)
			return b.v
		}, ErrTampered, true},
		{"tampered manifest", func(t *testing.T, b backedUp) *Vault {
			body, _ := b.tg.Get(ctx, manifestKey("inst-1", "b1"))
			body[len(body)-20] ^= 1
			mustPut(t, b.tg, manifestKey("inst-1", "b1"), body)
			return b.v
		}, ErrTampered, false},
		{"wrong key", func(t *testing.T, b backedUp) *Vault {
			return newVault(b.tg, clock.NewFake(t0), mustIdentity(t))
		}, ErrKey, false},
		{"missing chunk", func(t *testing.T, b backedUp) *Vault {
			ks := chunkKeys(t, b.tg, "inst-1")
			mustDelete(t, b.tg, ks[len(ks)-1])
			return b.v
		}, ErrMissing, false},
		{"missing data key", func(t *testing.T, b backedUp) *Vault {
			mustDelete(t, b.tg, keyKey("inst-1"))
			return b.v
		}, ErrMissing, false},
		{"another instance's backup in its place", func(t *testing.T, b backedUp) *Vault {
			other := mustBackedUp(t, b.tg, "inst-2")
			for _, k := range []string{keyKey("inst-2"), manifestKey("inst-2", "b1")} {
				body, _ := b.tg.Get(ctx, k)
				mustPut(t, b.tg, strings.Replace(k, "inst-2", "inst-1", 1), body)
			}
			return other.v
		}, ErrForeign, false},
		{"another instance's data key in its place", func(t *testing.T, b backedUp) *Vault {
			other := mustBackedUp(t, b.tg, "inst-2")
			body, _ := b.tg.Get(ctx, keyKey("inst-2"))
			mustPut(t, b.tg, keyKey("inst-1"), body)
			return other.v
		}, ErrForeign, false},
		{"another instance's manifest sealed with its key", func(t *testing.T, b backedUp) *Vault {
			m := mustManifest(t, b.v, "inst-1", "b1")
			m.InstanceID = "inst-2"
			mustPut(t, b.tg, manifestKey("inst-1", "b1"), mustSeal(t, b.v, "inst-1", m))
			return b.v
		}, ErrForeign, false},
		{"a manifest's top naming another instance", func(t *testing.T, b backedUp) *Vault {
			m := mustManifest(t, b.v, "inst-1", "b1")
			mustPut(t, b.tg, manifestKey("inst-1", "b1"), mustSeal(t, b.v, "inst-2", m))
			return b.v
		}, ErrForeign, false},
		{"missing manifest piece", func(t *testing.T, b backedUp) *Vault {
			top, _, err := b.v.openTop(ctx, "inst-1", "b1")
			if err != nil {
				t.Fatal(err)
			}
			mustDelete(t, b.tg, chunkKey("inst-1", top.Pieces[0].Key))
			return b.v
		}, ErrMissing, false},
		{"no such backup", func(t *testing.T, b backedUp) *Vault {
			mustDelete(t, b.tg, manifestKey("inst-1", "b1"))
			return b.v
		}, ErrNotFound, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := mustBackedUp(t, mustFileTarget(t), "inst-1")
			v := tc.break_(t, b)
			var out bytes.Buffer
			_, err := v.Read(ctx, "inst-1", "b1", &out)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read = %v, want %v", err, tc.want)
			}
			if tc.partial {
				if err := readWhole(out.Bytes()); err == nil {
					t.Fatal("what Read wrote before it failed reads as a whole snapshot stream")
				}
				return
			}
			if out.Len() != 0 {
				t.Fatalf("Read wrote %d bytes before it failed", out.Len())
			}
		})
	}
}

// readWhole reads stream as `sproudchat restore` does: every entry, checked, and every
// blob the header lists.
func readWhole(stream []byte) error {
	sr, err := snapshot.NewReader(bytes.NewReader(stream))
	if err != nil {
		return err
	}
	for {
		_, body, err := sr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return err
		}
	}
	if m := sr.Missing(); len(m) > 0 {
		return fmt.Errorf("%d blobs missing", len(m))
	}
	return nil
}

func TestReadOnS3RefusesAMissingChunkAndWritesNothing(t *testing.T) {
	t.Parallel()
	b := mustBackedUp(t, targets[1].open(t), "inst-1")
	ks := chunkKeys(t, b.tg, "inst-1")
	mustDelete(t, b.tg, ks[0])
	var out bytes.Buffer
	if _, err := b.v.Read(context.Background(), "inst-1", "b1", &out); !errors.Is(err, ErrMissing) || out.Len() != 0 {
		t.Fatalf("Read = %v after %d bytes, want ErrMissing and nothing", err, out.Len())
	}
}

func mustPut(t *testing.T, tg Target, key string, body []byte) {
	t.Helper()
	if err := tg.Put(context.Background(), key, body); err != nil {
		t.Fatal(err)
	}
}

func mustDelete(t *testing.T, tg Target, key string) {
	t.Helper()
	if err := tg.Delete(context.Background(), key); err != nil {
		t.Fatal(err)
	}
}

func mustManifest(t *testing.T, v *Vault, id, backupID string) Manifest {
	t.Helper()
	m, err := v.Manifest(context.Background(), id, backupID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// mustSeal stores m's pieces and returns a manifest top naming them, sealed with
// inst-1's data key, that says it is topID's.
func mustSeal(t *testing.T, v *Vault, topID string, m Manifest) []byte {
	t.Helper()
	k, _, err := v.openKey(context.Background(), "inst-1")
	if err != nil {
		t.Fatal(err)
	}
	up := &uploader{v: v, k: k, id: "inst-1", stored: map[string]int64{}, mine: map[string]int64{}}
	pieces, err := up.pieces(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.sealTop(k, manifestTop{Format: 1, InstanceID: topID, BackupID: m.BackupID, Pieces: pieces})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
