package ratelimit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/platform/clock"
)

func fakeClock() *clock.Fake { return clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }

// TestTakeIsOneStep: many callers at once get exactly the limit, however they
// interleave; a check followed by a separate record let all of them through.
func TestTakeIsOneStep(t *testing.T) {
	l := New(fakeClock(), time.Minute, 5)
	var passed atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if l.Take("k") == 0 {
				passed.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := passed.Load(); got != 5 {
		t.Fatalf("%d of 200 concurrent events passed a limit of 5", got)
	}
}

func TestSlidingWindowAndCancel(t *testing.T) {
	clk := fakeClock()
	l := New(clk, 10*time.Minute, 3)
	for i := range 3 {
		if w := l.Take("k"); w != 0 {
			t.Fatalf("event %d refused", i)
		}
		clk.Advance(time.Minute)
	}
	if w := l.Take("k"); w != 7*time.Minute {
		t.Fatalf("wait %s, want 7m: the first event leaves the window then", w)
	}
	clk.Advance(7 * time.Minute)
	r, w := l.Reserve("k")
	if w != 0 {
		t.Fatalf("refused after the oldest event left the window: wait %s", w)
	}
	if _, w := l.Reserve("k"); w == 0 {
		t.Fatal("a fourth event passed a limit of 3")
	}
	r.Cancel()
	r.Cancel() // twice is harmless
	r2, w := l.Reserve("k")
	if w != 0 {
		t.Fatal("a cancelled reservation still counts")
	}
	if _, w := l.Reserve("k"); w == 0 {
		t.Fatal("cancelling twice gave back two events")
	}
	r2.Cancel()
	l.Reset("k")
	for i := range 3 {
		if w := l.Take("k"); w != 0 {
			t.Fatalf("after Reset event %d refused", i)
		}
	}
	var zero Reservation
	zero.Cancel()
}

// TestFreshKeysEvictTheLeastRecentlyUsedOnly: a flood of new keys past the cap forgets
// the keys used longest ago, one for one; it never clears everybody's count (it did:
// at the cap every key was dropped, so 100k fresh addresses reset every account).
func TestFreshKeysEvictTheLeastRecentlyUsedOnly(t *testing.T) {
	const capacity = 1000
	l := NewSized(fakeClock(), time.Hour, 2, capacity)
	for range 2 {
		l.Take("victim")
	}
	// The flood: far more fresh keys than the cap, with the victim tried in between
	// (an attacker keeps trying it; each try is refused and keeps it recent).
	for i := range 10 * capacity {
		if i%(capacity/2) == 0 {
			if w := l.Take("victim"); w == 0 {
				t.Fatalf("after %d fresh keys the victim's count was forgotten", i)
			}
		}
		l.Take(fmt.Sprintf("fresh-%d", i))
	}
	if n := l.Len(); n != capacity {
		t.Fatalf("holds %d keys, want the cap %d", n, capacity)
	}
	if w := l.Take("victim"); w == 0 {
		t.Fatal("the victim's count was forgotten")
	}
	// The most recent keys are all still counted: fresh-(last) used 1 of 2.
	last := fmt.Sprintf("fresh-%d", 10*capacity-1)
	if w := l.Take(last); w != 0 {
		t.Fatal("the newest key lost its first event")
	}
	if w := l.Take(last); w == 0 {
		t.Fatal("the newest key's events were forgotten")
	}
	// The oldest fresh key went first.
	if w := l.Take("fresh-0"); w != 0 {
		t.Fatal("the least recently used key was kept while newer ones exist")
	}
}
