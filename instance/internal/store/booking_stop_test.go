package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/booking"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
	"github.com/sproudstack/sproudchat/instance/internal/worker"
)

// heldReminders holds the first reminder until released.
type heldReminders struct {
	entered, release chan struct{}
	mu               sync.Mutex
	reminded         []int64
}

func (h *heldReminders) Booked(context.Context, booking.Booking, booking.Type, string) error {
	return nil
}
func (h *heldReminders) Cancelled(context.Context, booking.Booking, booking.Type) error { return nil }
func (h *heldReminders) Remind(_ context.Context, b booking.Booking, _ booking.Type, _ string) error {
	h.mu.Lock()
	first := len(h.reminded) == 0
	h.reminded = append(h.reminded, b.ID)
	h.mu.Unlock()
	if first {
		close(h.entered)
		<-h.release
	}
	return nil
}

// TestBookingWorkerStopsBetweenReminders: stopped while a reminder is being sent, the
// booking worker records that booking reminded (it is not reminded twice after a
// restart) and takes no further booking; those are reminded at the next start.
func TestBookingWorkerStopsBetweenReminders(t *testing.T) {
	db := storetest.MustOpen(t, store.SQLite)
	ev := &heldReminders{entered: make(chan struct{}), release: make(chan struct{})}
	e := newBookingEnvTelling(t, db, time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC), ev)
	for _, hour := range []int{9, 11, 13} {
		if _, _, err := e.svc.Book(context.Background(), e.typ, request(time.Date(2026, 11, 4, hour, 0, 0, 0, time.UTC), "Greta")); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(30 * time.Hour) // all three within the default 24 hours

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.svc.Run(ctx, worker.Options{Every: time.Hour, Grace: time.Hour}) }()
	<-ev.entered
	cancel()
	close(ev.release)
	<-done

	var marked []int64
	if err := db.Gorm().Raw("SELECT id FROM bookings WHERE reminder_sent_at IS NOT NULL").Scan(&marked).Error; err != nil {
		t.Fatal(err)
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if len(ev.reminded) != 1 || len(marked) != 1 || marked[0] != ev.reminded[0] {
		t.Errorf("reminded %v, marked reminded %v; want the one in progress, recorded, and no other", ev.reminded, marked)
	}
}
