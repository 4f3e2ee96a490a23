package booking

import (
	"fmt"
	"testing"
	"time"
)

func clockTimes(slots []Slot, loc *time.Location) []string {
	var out []string
	for _, s := range slots {
		out = append(out, s.Start.In(loc).Format("Mon 15:04"))
	}
	return out
}

// TestSlotsRules: hours, buffers on both sides, the minimum notice, the horizon and
// days off each take times away, and agents free at the same time share a slot.
func TestSlotsRules(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Berlin")
	now := time.Date(2026, 11, 2, 8, 0, 0, 0, loc) // Monday 08:00
	typ := Type{DurationMinutes: 60, BufferBeforeMinutes: 15, BufferAfterMinutes: 30, MinNoticeMinutes: 90, HorizonDays: 2}
	at := func(day, h, m int) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, loc) }
	booked := Busy{Time: Interval{at(2, 13, 0), at(2, 14, 0)}, Blocked: Interval{at(2, 12, 0), at(2, 15, 0)}} // its own buffers: 1 h each side
	agents := []Schedule{
		{UserID: 1, Hours: []Hours{{Weekday: time.Monday, Start: 9 * 60, End: 17 * 60}, {Weekday: time.Tuesday, Start: 9 * 60, End: 11 * 60}}, Busy: []Busy{booked}},
		{UserID: 2, Hours: []Hours{{Weekday: time.Tuesday, Start: 9 * 60, End: 11 * 60}}, DaysOff: map[string]bool{}},
	}
	got := Slots(typ, agents, now, now.AddDate(0, 0, 7), now, loc)
	// Monday: 09:00 is inside the 90-minute notice; 12:00, 13:00 and 14:00 meet the
	// booked appointment or its own hour of buffer on each side (12:00–15:00); 11:00 and
	// 15:00 just touch it, and their buffers (15 min before, 30 after) cover none of the
	// booked hour. Tuesday has both agents.
	want := []string{"Mon 10:00", "Mon 11:00", "Mon 15:00", "Mon 16:00", "Tue 09:00", "Tue 10:00"}
	if g := clockTimes(got, loc); fmt.Sprint(g) != fmt.Sprint(want) {
		t.Fatalf("slots %v, want %v", g, want)
	}
	for _, s := range got {
		if s.Start.Weekday() == time.Tuesday && len(s.Agents) != 2 {
			t.Fatalf("Tuesday %v: agents %v, want both", s.Start, s.Agents)
		}
		if s.Start.Equal(at(2, 12, 0)) || s.Start.Equal(at(2, 13, 0)) || s.Start.Equal(at(2, 14, 0)) {
			t.Fatalf("%v overlaps the booking or its buffers", s.Start)
		}
	}
	// A day off for agent 2 leaves Tuesday to agent 1; past the 2-day horizon nothing.
	agents[1].DaysOff["2026-11-03"] = true
	for _, s := range Slots(typ, agents, now, now.AddDate(0, 0, 7), now, loc) {
		if s.Start.Weekday() == time.Tuesday && len(s.Agents) != 1 {
			t.Fatalf("agent 2 offered on their day off: %v", s)
		}
		if s.Start.After(now.AddDate(0, 0, 2)) {
			t.Fatalf("%v is past the horizon", s.Start)
		}
	}
}
