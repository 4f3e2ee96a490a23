package booking

import (
	"testing"
	"time"
)

// BenchmarkSlots: 20 agents, weekday hours, 8 weeks, 100 bookings each.
func BenchmarkSlots(b *testing.B) {
	loc, _ := time.LoadLocation("Europe/Berlin")
	now := time.Date(2026, 11, 2, 6, 0, 0, 0, time.UTC)
	t := Type{DurationMinutes: 30, BufferAfterMinutes: 10, HorizonDays: 60}
	var scheds []Schedule
	for a := range 20 {
		sc := Schedule{UserID: int64(a + 1)}
		for d := time.Monday; d <= time.Friday; d++ {
			sc.Hours = append(sc.Hours, Hours{Weekday: d, Start: 8 * 60, End: 12 * 60}, Hours{Weekday: d, Start: 13 * 60, End: 18 * 60})
		}
		for i := range 100 {
			s := now.Add(time.Duration(i*13+a) * time.Hour).Truncate(30 * time.Minute)
			sc.Busy = append(sc.Busy, Busy{Time: Interval{s, s.Add(30 * time.Minute)}, Blocked: Interval{s, s.Add(40 * time.Minute)}})
		}
		scheds = append(scheds, sc)
	}
	b.ResetTimer()
	for range b.N {
		Slots(t, scheds, now, now.AddDate(0, 0, 56), now, loc)
	}
}
