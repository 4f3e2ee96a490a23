package store_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/store"
)

func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, "", filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	svc := chat.NewService(store.NewChat(db), chat.NewHub(), chat.Options{})
	c, _, _ := svc.Start(ctx, "a", "", "")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := svc.Send(ctx, c.ID, chat.Visitor, nil, "hello", ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendConcurrent: many conversations writing at once, as under load.
func BenchmarkAppendConcurrent(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, "", filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	svc := chat.NewService(store.NewChat(db), chat.NewHub(), chat.Options{})
	var convs []int64
	for range 256 {
		c, _, _ := svc.Start(ctx, "a", "", "")
		convs = append(convs, c.ID)
	}
	var next atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conv := convs[next.Add(1)%int64(len(convs))]
		for pb.Next() {
			if _, err := svc.Send(ctx, conv, chat.Visitor, nil, "hello", ""); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
