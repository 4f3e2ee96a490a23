package vault

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/sproudstack/sproudchat/platform/clock"
)

// BenchmarkWriteRead stores and reads back a 64 MiB incompressible blob on each
// target: MB/s of snapshot stream in, and out (Read's check pass included).
func BenchmarkWriteRead(b *testing.B) {
	const size = 64 << 20
	ctx := context.Background()
	blob := randomEntry(9, size)
	db := bytesEntry([]byte("SQLite format 3\x00"))
	for _, tc := range targets {
		b.Run(tc.name, func(b *testing.B) {
			v := newVault(tc.open(b), clock.NewFake(t0), mustIdentity(b))
			b.Run("write", func(b *testing.B) {
				b.SetBytes(size)
				for i := range b.N {
					id := fmt.Sprintf("w-%d", i)
					if _, err := v.Write(ctx, source(id), "b1", "", streamOf(b, db, []entry{blob}, nil)); err != nil {
						b.Fatal(err)
					}
				}
			})
			if _, err := v.Write(ctx, source("r"), "b1", "", streamOf(b, db, []entry{blob}, nil)); err != nil {
				b.Fatal(err)
			}
			b.Run("read", func(b *testing.B) {
				b.SetBytes(size)
				for range b.N {
					if _, err := v.Read(ctx, "r", "b1", io.Discard); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
