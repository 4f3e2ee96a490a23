package accounts

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/platform/testkit/poll"
)

// TestHashGateBoundsConcurrency: however many callers come at once, no more than Slots
// hashes run; callers past the queue are refused at once with ErrBusy, and each
// finished hash hands its memory back.
func TestHashGateBoundsConcurrency(t *testing.T) {
	g := newHashGate(GateOptions{Slots: 2, Queue: 3, MaxWait: time.Minute})
	var releases atomic.Int32
	g.release = func() { releases.Add(1) }
	var running, peak, ran, busy atomic.Int32
	block := make(chan struct{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := g.do(context.Background(), func() {
				n := running.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				<-block
				running.Add(-1)
				ran.Add(1)
			})
			if errors.Is(err, ErrBusy) {
				busy.Add(1)
			} else if err != nil {
				t.Error(err)
			}
		}()
	}
	// 2 run, 3 wait: the other 15 are refused without waiting.
	poll.Eventually(t, "15 hashes refused", func() bool { return busy.Load() >= 15 })
	close(block)
	wg.Wait()
	if peak.Load() > 2 {
		t.Errorf("%d hashes ran at once with 2 slots", peak.Load())
	}
	if ran.Load() != 5 || busy.Load() != 15 {
		t.Errorf("ran %d, refused %d; want 5 (2 slots + 3 queued) and 15", ran.Load(), busy.Load())
	}
	if releases.Load() != 5 {
		t.Errorf("memory handed back %d times after 5 hashes", releases.Load())
	}
}

func TestHashGateWaitsBrieflyThenRefuses(t *testing.T) {
	g := newHashGate(GateOptions{Slots: 1, MaxWait: 50 * time.Millisecond})
	g.release = func() {}
	hold := make(chan struct{})
	started := make(chan struct{})
	go g.do(context.Background(), func() { close(started); <-hold })
	<-started
	if err := g.do(context.Background(), func() { t.Error("ran without a slot") }); !errors.Is(err, ErrBusy) {
		t.Fatalf("a caller that found no slot within MaxWait got %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.do(ctx, func() { t.Error("ran for a caller that gave up") }); !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller that gave up got %v", err)
	}
	close(hold)
}

func TestHashSlots(t *testing.T) {
	cpus := min(runtime.NumCPU(), 4)
	cases := []struct {
		name  string
		limit int64
		want  int
	}{
		{"no limit: the processors, at most 4", math.MaxInt64, cpus},
		{"128 MiB plan (GOMEMLIMIT 90%)", 128 << 20 * 9 / 10, min(cpus, 2)},
		{"64 MiB: one at a time", 64 << 20, 1},
		{"below the base: still one", 16 << 20, 1},
		{"1 GiB: the processors", 1 << 30, cpus},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := HashSlots(tc.limit, DefaultHashParams); got != tc.want {
				t.Errorf("HashSlots(%d MiB) = %d, want %d", tc.limit>>20, got, tc.want)
			}
		})
	}
}
