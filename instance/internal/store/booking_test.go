package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	ical "github.com/arran4/golang-ical"
	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/booking"
	"github.com/sproudstack/sproudchat/instance/internal/notify"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
	"github.com/sproudstack/sproudchat/platform/clock"
)

type bookingEnv struct {
	svc   *booking.Service
	clock *clock.Fake
	agent int64
	typ   booking.Type
}

// newBookingEnv: one agent offering a 60-minute consultation, Monday to Sunday 09:00–17:00.
func newBookingEnv(t *testing.T, db *store.DB, now time.Time) bookingEnv {
	t.Helper()
	return newBookingEnvTelling(t, db, now, nil)
}

// newBookingEnvTelling is newBookingEnv with events told to ev.
func newBookingEnvTelling(t *testing.T, db *store.DB, now time.Time, ev booking.Events) bookingEnv {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(now)
	svc := booking.NewService(store.NewBooking(db), store.NewSettings(db), booking.Options{Clock: clk, SecretKey: []byte(strings.Repeat("s", 32)),
		BaseURL: "https://acme.sproud.chat", Events: ev})
	agent := mkUser(t, db, "berta@acme.example")
	var hours []booking.Hours
	for d := time.Sunday; d <= time.Saturday; d++ {
		hours = append(hours, booking.Hours{Weekday: d, Start: 9 * 60, End: 17 * 60})
	}
	if err := svc.SetHours(ctx, agent, hours); err != nil {
		t.Fatal(err)
	}
	typ, err := svc.SaveType(ctx, booking.Type{Name: "Beratung", Slug: "beratung", DurationMinutes: 60, BufferAfterMinutes: 15, HorizonDays: 60,
		AgentIDs: []int64{agent}, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	return bookingEnv{svc: svc, clock: clk, agent: agent, typ: typ}
}

func request(start time.Time, name string) booking.Request {
	return booking.Request{Start: start, Name: name, Email: strings.ToLower(name) + "@example.org", Message: "Hallo", Consent: true}
}

// TestTwentyVisitorsBookOneSlot: twenty visitors book the same time at the same moment;
// exactly one gets it, the others are told it is gone, and one booking is stored.
func TestTwentyVisitorsBookOneSlot(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newBookingEnv(t, db, time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC))
		slot := time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC) // 10:00 in Berlin
		var wg sync.WaitGroup
		errs := make([]error, 20)
		start := make(chan struct{})
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, _, errs[i] = e.svc.Book(ctx, e.typ, request(slot, "Visitor"))
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, booking.ErrSlotTaken) || isInvalid(err):
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		list, _ := e.svc.Bookings(ctx, booking.Filter{})
		if won != 1 || len(list) != 1 {
			t.Fatalf("%d won, %d stored; want exactly one", won, len(list))
		}
		// The buffer after it keeps the next hour's start free of a back-to-back booking:
		// 11:00 is offered again only because the buffer is 15 minutes and the slot grid is hourly.
		slots, _ := e.svc.FreeSlots(ctx, e.typ, slot.Add(-time.Hour), slot.Add(3*time.Hour))
		for _, s := range slots {
			if s.Start.Equal(slot) {
				t.Fatal("the booked time is still offered")
			}
		}
	})
}

func isInvalid(err error) bool {
	_, ok := instance.FieldErrors(err)
	return ok
}

// TestSlotsAcrossTheEndOfDaylightSavingTime: on the last Sunday of October the clocks
// in Berlin go back at 03:00; an agent available 00:00–06:00 local has seven real
// hours, the hour from 02:00 shows twice with its own offset, and a booking across the
// change lasts exactly its length and is stored as that instant.
func TestSlotsAcrossTheEndOfDaylightSavingTime(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newBookingEnv(t, db, time.Date(2026, 10, 20, 8, 0, 0, 0, time.UTC))
		if err := e.svc.SetHours(ctx, e.agent, []booking.Hours{{Weekday: time.Sunday, Start: 0, End: 6 * 60}}); err != nil {
			t.Fatal(err)
		}
		berlin, _ := time.LoadLocation("Europe/Berlin")
		day := time.Date(2026, 10, 25, 0, 0, 0, 0, berlin)
		slots, err := e.svc.FreeSlots(ctx, e.typ, day, day.AddDate(0, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		var shown []string
		for _, s := range slots {
			shown = append(shown, s.Start.In(berlin).Format("15:04 MST"))
		}
		want := "00:00 CEST 01:00 CEST 02:00 CEST 02:00 CET 03:00 CET 04:00 CET 05:00 CET"
		if strings.Join(shown, " ") != want {
			t.Fatalf("slots %q, want %q", strings.Join(shown, " "), want)
		}
		// 90 minutes from 01:30 CEST: across the change, ending 02:00 CET.
		long, err := e.svc.SaveType(ctx, booking.Type{Name: "Lang", Slug: "lang", DurationMinutes: 90, HorizonDays: 60, AgentIDs: []int64{e.agent}, Active: true})
		if err != nil {
			t.Fatal(err)
		}
		slots, _ = e.svc.FreeSlots(ctx, long, day, day.AddDate(0, 0, 1))
		start := time.Date(2026, 10, 24, 23, 30, 0, 0, time.UTC) // 01:30 CEST
		found := false
		for _, s := range slots {
			if s.Start.Equal(start) {
				found = true
			}
		}
		if !found {
			t.Fatalf("01:30 CEST not offered: %v", slots)
		}
		b, _, err := e.svc.Book(ctx, long, request(start, "Ulla"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := e.svc.Booking(ctx, b.ID)
		if !got.Start.Equal(start) || got.End.Sub(got.Start) != 90*time.Minute || got.End.In(berlin).Format("15:04 MST") != "02:00 CET" {
			t.Fatalf("stored %v – %v (%v local)", got.Start, got.End, got.End.In(berlin))
		}
		// The .ics says the same, parsed by a maintained iCalendar library.
		cal, err := ical.ParseCalendar(strings.NewReader(notify.ICS(got, long, berlin, "https://acme.sproud.chat", e.svc.ManageURL(got), e.clock.Now())))
		if err != nil {
			t.Fatal(err)
		}
		ev := cal.Events()[0]
		s, err1 := ev.GetStartAt()
		en, err2 := ev.GetEndAt()
		if err1 != nil || err2 != nil || !s.Equal(got.Start) || !en.Equal(got.End) {
			t.Fatalf("ics: %v %v (%v %v)", s, en, err1, err2)
		}
		if len(cal.Timezones()) != 1 || ev.GetProperty(ical.ComponentPropertyDtStart).ICalParameters["TZID"][0] != "Europe/Berlin" {
			t.Fatalf("ics without time zone: %s", notify.ICS(got, long, berlin, "", "", e.clock.Now()))
		}
		// The hour that happens twice is written in UTC, which cannot be misread.
		twice, _, err := e.svc.Book(ctx, e.typ, request(time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC), "Otto")) // 02:00 CET
		if err != nil {
			t.Fatal(err)
		}
		cal, _ = ical.ParseCalendar(strings.NewReader(notify.ICS(twice, e.typ, berlin, "", "", e.clock.Now())))
		if s, _ := cal.Events()[0].GetStartAt(); !s.Equal(twice.Start) {
			t.Fatalf("02:00 CET in the .ics reads as %v", s)
		}
	})
}

// TestBookingRetentionAndReminders: personal data is erased the configured days after
// the appointment, by the clock, and the counts remain; a reminder goes out once.
func TestBookingRetentionAndReminders(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newBookingEnv(t, db, time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC))
		start := time.Date(2026, 11, 5, 9, 0, 0, 0, time.UTC)
		b, link, err := e.svc.Book(ctx, e.typ, request(start, "Greta"))
		if err != nil {
			t.Fatal(err)
		}
		if found, err := e.svc.ByToken(ctx, strings.TrimPrefix(link, "https://acme.sproud.chat/book/manage/")); err != nil || found.ID != b.ID {
			t.Fatalf("by token: %v", err)
		}
		for _, bad := range []string{"", "1", "1.abc", strings.Replace(e.svc.Token(b), ".", "0.", 1), e.svc.Token(b) + "0"} {
			if _, err := e.svc.ByToken(ctx, bad); !errors.Is(err, instance.ErrNotFound) {
				t.Fatalf("token %q: %v", bad, err)
			}
		}
		e.clock.Advance(start.Add(30*24*time.Hour - time.Minute).Sub(e.clock.Now()))
		if n, _ := e.svc.Retain(ctx); n != 0 {
			t.Fatal("erased before 30 days after the appointment")
		}
		e.clock.Advance(start.Add(31 * 24 * time.Hour).Sub(e.clock.Now()))
		if n, err := e.svc.Retain(ctx); err != nil || n != 1 {
			t.Fatalf("retain: %d %v", n, err)
		}
		got, _ := e.svc.Booking(ctx, b.ID)
		var raw struct{ Name, Email, Message string }
		db.Gorm().Raw("SELECT name, email, message FROM bookings WHERE id = ?", b.ID).Scan(&raw)
		type erased struct {
			Anonymized           bool
			Name, Email, Message string
		}
		if diff := cmp.Diff(erased{Anonymized: true}, erased{got.AnonymizedAt != nil, raw.Name, raw.Email, raw.Message}); diff != "" {
			t.Fatalf("after retention (-want +got):\n%s", diff)
		}
		if counts, _ := e.svc.Counts(ctx, start.AddDate(0, 0, -1), start.AddDate(0, 0, 1)); counts[booking.Confirmed] != 1 {
			t.Fatalf("counts %v", counts)
		}
		if _, err := e.svc.ByToken(ctx, e.svc.Token(b)); !errors.Is(err, instance.ErrNotFound) {
			t.Fatal("an erased booking's link still works")
		}
	})
}
