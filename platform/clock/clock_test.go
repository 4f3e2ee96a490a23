package clock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/platform/clock"
)

func TestFake(t *testing.T) {
	start := time.Date(2026, 3, 29, 1, 30, 0, 0, time.FixedZone("CET", 3600))
	f := clock.NewFake(start)
	if got := f.Now(); !got.Equal(start) || got.Location() != time.UTC {
		t.Fatalf("Now() = %v, want %v in UTC", got, start)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { f.Advance(time.Minute) })
	}
	wg.Wait()
	if got, want := f.Now(), start.Add(10*time.Minute); !got.Equal(want) {
		t.Errorf("after 10 advances Now() = %v, want %v", got, want)
	}
}

func TestRealIsUTC(t *testing.T) {
	var c clock.Clock = clock.Real{}
	if loc := c.Now().Location(); loc != time.UTC {
		t.Errorf("Real.Now() in %v, want UTC", loc)
	}
}
