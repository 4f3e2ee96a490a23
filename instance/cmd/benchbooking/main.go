// Command benchbooking measures the booking portal and the notifications:
//
//   - free-slot computation for 20 agents over 8 weeks with 2,000 existing bookings,
//     p50/p99 of the service call (loading hours, days off and bookings from SQLite, then
//     computing), beside the bare computation on data already in memory (the floor);
//   - notification throughput to a local webhook receiver through the durable queue
//     (enqueue, claim, sign, POST, record), beside bare signed POSTs from one client to the
//     same receiver (the floor).
//
// Figures go to JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/booking"
	"github.com/sproudstack/sproudchat/instance/internal/notify"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/platform/clock"
)

type dist struct {
	Runs  int     `json:"runs"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func summarize(v []float64) dist {
	sort.Float64s(v)
	p := func(q float64) float64 { return float64(int64(v[int(float64(len(v)-1)*q)]*1000+0.5)) / 1000 }
	return dist{Runs: len(v), P50Ms: p(0.5), P99Ms: p(0.99), MaxMs: p(1)}
}

func main() {
	out := flag.String("out", "bench/results/booking-notify.json", "where to write the figures")
	runs := flag.Int("runs", 200, "slot computations to time")
	events := flag.Int("events", 2000, "notifications to deliver")
	flag.Parse()
	if err := run(*out, *runs, *events); err != nil {
		fmt.Fprintln(os.Stderr, "benchbooking:", err)
		os.Exit(1)
	}
}

func run(out string, runs, events int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "benchbooking-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, "", filepath.Join(dir, "bench.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	res := map[string]any{"benchmark": "booking-notify", "when": time.Now().UTC(),
		"machine": map[string]string{"cpus": fmt.Sprint(runtime.NumCPU()), "go": runtime.Version()},
		"target":  "free-slot computation p99 <= 10 ms (20 agents x 8 weeks, 2,000 bookings)"}
	slots, err := benchSlots(ctx, db, runs)
	if err != nil {
		return fmt.Errorf("slots: %w", err)
	}
	res["free_slots"] = slots
	n, err := benchNotify(ctx, db, events)
	if err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	res["notifications"] = n
	b, _ := json.MarshalIndent(res, "", "  ")
	os.MkdirAll(filepath.Dir(out), 0o755)
	os.Stdout.Write(append(b, '\n'))
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

// benchSlots seeds 20 agents with weekday hours, one type they all offer and 2,000
// bookings over the 8 weeks, then times FreeSlots for the whole 8 weeks.
func benchSlots(ctx context.Context, db *store.DB, runs int) (map[string]any, error) {
	now := time.Date(2026, 11, 2, 6, 0, 0, 0, time.UTC)
	clk := clock.NewFake(now)
	svc := booking.NewService(store.NewBooking(db), store.NewSettings(db), booking.Options{Clock: clk, SecretKey: []byte(strings.Repeat("k", 32))})
	var agents []int64
	for i := range 20 {
		email := fmt.Sprintf("agent%d@bench.example", i)
		if err := db.Gorm().Exec("INSERT INTO users (email, name, role, active, password_hash, created_at, updated_at) VALUES (?, ?, 'agent', ?, '', ?, ?)",
			email, email, true, now, now).Error; err != nil {
			return nil, err
		}
		var id int64
		db.Gorm().Raw("SELECT id FROM users WHERE email = ?", email).Scan(&id)
		agents = append(agents, id)
		var hours []booking.Hours
		for d := time.Monday; d <= time.Friday; d++ {
			hours = append(hours, booking.Hours{Weekday: d, Start: 8 * 60, End: 12 * 60}, booking.Hours{Weekday: d, Start: 13 * 60, End: 18 * 60})
		}
		if err := svc.SetHours(ctx, id, hours); err != nil {
			return nil, err
		}
	}
	t, err := svc.SaveType(ctx, booking.Type{Name: "Bench", Slug: "bench", DurationMinutes: 30, BufferAfterMinutes: 10, HorizonDays: 60, AgentIDs: agents, Active: true})
	if err != nil {
		return nil, err
	}
	from, to := now, now.AddDate(0, 0, 56)
	seedStart := time.Now()
	all, err := svc.FreeSlots(ctx, t, from, to)
	if err != nil {
		return nil, err
	}
	booked := 0
	for i := 0; booked < 2000 && i < len(all)*4; i++ {
		s := all[(i*7919)%len(all)] // spread over the weeks
		if _, _, err := svc.Book(ctx, t, booking.Request{Start: s.Start, Name: "Bench", Email: "bench@example.org", Consent: true}); err == nil {
			booked++
		}
	}
	seed := time.Since(seedStart)
	// Warm: as the pages call it, the agents' bookings cached by the service.
	var warm, cold []float64
	var count int
	for range runs {
		st := time.Now()
		s, err := svc.FreeSlots(ctx, t, from, to)
		if err != nil {
			return nil, err
		}
		warm = append(warm, float64(time.Since(st).Nanoseconds())/1e6)
		count = len(s)
	}
	// Cold: a fresh service each time, loading every booking from SQLite.
	for range runs / 4 {
		fresh := booking.NewService(store.NewBooking(db), store.NewSettings(db), booking.Options{Clock: clk, SecretKey: []byte(strings.Repeat("k", 32))})
		st := time.Now()
		if _, err := fresh.FreeSlots(ctx, t, from, to); err != nil {
			return nil, err
		}
		cold = append(cold, float64(time.Since(st).Nanoseconds())/1e6)
	}
	// The floor: the same computation on schedules already in memory.
	loc, _ := time.LoadLocation("Europe/Berlin")
	busy, err := store.NewBooking(db).Busy(ctx, agents, from.Add(-24*time.Hour), to.Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	hours, err := svc.Hours(ctx, agents)
	if err != nil {
		return nil, err
	}
	var scheds []booking.Schedule
	for _, a := range agents {
		sc := booking.Schedule{UserID: a, Busy: busy[a]}
		for _, h := range hours {
			if h.UserID == a {
				sc.Hours = append(sc.Hours, h)
			}
		}
		scheds = append(scheds, sc)
	}
	var pure []float64
	for range runs {
		st := time.Now()
		booking.Slots(t, scheds, from, to, now, loc)
		pure = append(pure, float64(time.Since(st).Nanoseconds())/1e6)
	}
	d := summarize(warm)
	return map[string]any{"agents": len(agents), "weeks": 8, "bookings": booked, "free_slots_found": count, "seed_seconds": seed.Seconds(),
		"service_call": d, "service_call_cold_cache_sqlite": summarize(cold), "floor_computation_in_memory": summarize(pure),
		"within_target": d.P99Ms <= 10}, nil
}

// benchNotify delivers events to a local webhook receiver through the queue, and
// beside it posts the same signed bodies straight to it.
func benchNotify(ctx context.Context, db *store.DB, events int) (map[string]any, error) {
	var got atomic.Int64
	rx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got.Add(1)
	}))
	defer rx.Close()
	seal, err := notify.NewSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		return nil, err
	}
	hooks := notify.NewHooks(store.NewHooks(db), seal, nil, nil, notify.HookOptions{BaseURL: "https://bench.example", AllowLoopback: true})
	if _, _, err := hooks.CreateTarget(ctx, notify.TargetInput{Kind: notify.KindWebhook, URL: rx.URL + "/hook", Events: []string{notify.EventTicketNew}}); err != nil {
		return nil, err
	}
	ev := notify.Event{Type: notify.EventTicketNew, Title: "New ticket #1: bench", Text: strings.Repeat("x", 300), URL: "https://bench.example/tickets/1"}
	start := time.Now()
	for range events {
		if err := hooks.Publish(ctx, ev); err != nil {
			return nil, err
		}
	}
	enqueued := time.Since(start)
	for got.Load() < int64(events) {
		n, err := hooks.Deliver(ctx)
		if err != nil {
			return nil, err
		}
		if n == 0 && got.Load() < int64(events) {
			return nil, fmt.Errorf("delivered %d of %d", got.Load(), events)
		}
	}
	queued := time.Since(start)
	// Floor: the same number of signed POSTs, straight from one client.
	body, _ := json.Marshal(ev)
	client := &http.Client{}
	got.Store(0)
	start = time.Now()
	for range events {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, rx.URL+"/hook", strings.NewReader(string(body)))
		ts := fmt.Sprint(time.Now().Unix())
		req.Header.Set("Sproud-Signature", "t="+ts+",v1="+notify.Sign("secret", ts, body))
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	bare := time.Since(start)
	return map[string]any{"events": events, "receiver": "local webhook (signed)",
		"through_queue_per_second":       float64(int(float64(events)/queued.Seconds()*10)) / 10,
		"enqueue_seconds":                enqueued.Seconds(),
		"floor_bare_posts_per_second":    float64(int(float64(events)/bare.Seconds()*10)) / 10,
		"queue_over_floor_time_multiple": float64(int(queued.Seconds()/bare.Seconds()*100)) / 100}, nil
}
