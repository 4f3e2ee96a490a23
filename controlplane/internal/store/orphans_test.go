package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/controlplane/internal/store"
	"github.com/sproudstack/sproudchat/controlplane/internal/store/storetest"
)

// TestOrphansKeepTheirFirstSighting: the grace period before an orphan's data may go
// counts from the first time gc found it, however often it is found again.
func TestOrphansKeepTheirFirstSighting(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		s := store.New(storetest.MustOpen(t, d))
		ctx := context.Background()
		t1 := t0.Add(time.Hour)
		if got, err := s.SeeOrphans(ctx, []string{"in-a", "in-b"}, t0); err != nil || !sameTimes(got, map[string]time.Time{"in-a": t0, "in-b": t0}) {
			t.Fatalf("first sighting: %v, %v", got, err)
		}
		if got, err := s.SeeOrphans(ctx, []string{"in-b", "in-c"}, t1); err != nil || !sameTimes(got, map[string]time.Time{"in-b": t0, "in-c": t1}) {
			t.Fatalf("second sighting: %v, %v; want in-b still at the first", got, err)
		}
		if err := s.ForgetOrphans(ctx, []string{"in-c"}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.OrphansSeen(ctx, []string{"in-a", "in-b", "in-c"}); err != nil || !sameTimes(got, map[string]time.Time{"in-c": t1}) {
			t.Fatalf("after forgetting all but in-c: %v, %v", got, err)
		}
		if err := s.ForgetOrphans(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := s.OrphansSeen(ctx, []string{"in-c"}); err != nil || len(got) != 0 {
			t.Fatalf("after forgetting all: %v, %v", got, err)
		}
	})
}

func sameTimes(a, b map[string]time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !w.Equal(v) {
			return false
		}
	}
	return true
}
