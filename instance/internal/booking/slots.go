package booking

import (
	"sort"
	"time"
)

// Interval is a span of time, [Start, End).
type Interval struct{ Start, End time.Time }

// Hours is one span of an agent's week: on Weekday, from Start to End minutes after
// local midnight in the instance's time zone.
type Hours struct {
	UserID  int64
	Weekday time.Weekday
	Start   int // minutes after midnight
	End     int
}

// Schedule is what one agent's availability comes to for the slot computation.
type Schedule struct {
	UserID  int64
	Hours   []Hours
	DaysOff map[string]bool // "2006-01-02" in the instance's zone
	// Busy are the agent's confirmed bookings: their own time and their blocked time
	// (with their type's buffers). Sorted by Blocked.Start.
	Busy []Busy
}

// Busy is one existing booking as the slot computation sees it.
type Busy struct {
	BookingID int64
	Time      Interval // the appointment
	Blocked   Interval // with its type's buffers
}

// Slot is a time that can be booked, and who is free for it.
type Slot struct {
	Start, End time.Time
	Agents     []int64
}

// maxBlocked bounds how long one booking blocks: 8 hours and two 4-hour buffers, less
// than a day (Type.Validate holds types to it).
const maxBlocked = 24 * time.Hour

// span is an interval in Unix seconds: the slot computation runs on integers.
type span struct{ s, e int64 }

func (a span) overlaps(b span) bool { return a.s < b.e && b.s < a.e }

// busySpans are one agent's bookings, their time and blocked time, sorted by blocked start.
type busySpans struct{ time, blocked []span }

func toSpans(busy []Busy) busySpans {
	sorted := make([]Busy, len(busy))
	copy(sorted, busy)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Blocked.Start.Before(sorted[j].Blocked.Start) })
	out := busySpans{time: make([]span, len(sorted)), blocked: make([]span, len(sorted))}
	for i, b := range sorted {
		out.time[i] = span{b.Time.Start.Unix(), b.Time.End.Unix()}
		out.blocked[i] = span{b.Blocked.Start.Unix(), b.Blocked.End.Unix()}
	}
	return out
}

// free tells whether an appointment at slot, with the type's buffers (buffered), fits
// around busy: neither may the new appointment's buffers cover an existing one, nor an
// existing one's buffers the new appointment.
func (b busySpans) free(slot, buffered span) bool {
	lo := buffered.s - int64(maxBlocked/time.Second)
	i := sort.Search(len(b.blocked), func(i int) bool { return b.blocked[i].s >= lo })
	for ; i < len(b.blocked) && b.blocked[i].s < buffered.e; i++ {
		if buffered.overlaps(b.time[i]) || slot.overlaps(b.blocked[i]) {
			return false
		}
	}
	return true
}

// Slots lists the bookable times of type t between from and to: the agents' hours in
// loc, stepped by the appointment's length in real time (so the day the clocks go
// back has its extra hour and the day they go forward lacks one), minus days off,
// bookings and their buffers, the minimum notice and anything past the horizon.
func Slots(t Type, agents []Schedule, from, to, now time.Time, loc *time.Location) []Slot {
	dur := int64(t.DurationMinutes) * 60
	before, after := int64(t.BufferBeforeMinutes)*60, int64(t.BufferAfterMinutes)*60
	earliest := now.Add(time.Duration(t.MinNoticeMinutes) * time.Minute)
	latest := now.Add(time.Duration(t.HorizonDays) * 24 * time.Hour)
	if from.Before(earliest) {
		from = earliest
	}
	if to.After(latest) {
		to = latest
	}
	if !from.Before(to) || dur <= 0 {
		return nil
	}
	fromU, toU := from.Unix(), to.Unix()
	if from.Nanosecond() > 0 {
		fromU++ // a slot starts on a whole second at or after from
	}
	busy := make([]busySpans, len(agents))
	for i, a := range agents {
		busy[i] = toSpans(a.Busy)
	}
	var out []Slot
	index := map[int64]int{}
	first := from.In(loc)
	day := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, loc)
	for ; day.Before(to); day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc) {
		key := day.Format("2006-01-02")
		for ai, a := range agents {
			if a.DaysOff[key] {
				continue
			}
			for _, h := range a.Hours {
				if h.Weekday != day.Weekday() {
					continue
				}
				ws := time.Date(day.Year(), day.Month(), day.Day(), h.Start/60, h.Start%60, 0, 0, loc).Unix()
				we := time.Date(day.Year(), day.Month(), day.Day(), h.End/60, h.End%60, 0, 0, loc).Unix()
				s := ws
				if s < fromU {
					s += (fromU - s + dur - 1) / dur * dur
				}
				for ; s+dur <= we && s < toU; s += dur {
					if !busy[ai].free(span{s, s + dur}, span{s - before, s + dur + after}) {
						continue
					}
					i, ok := index[s]
					if !ok {
						i = len(out)
						index[s] = i
						out = append(out, Slot{Start: time.Unix(s, 0).UTC(), End: time.Unix(s+dur, 0).UTC()})
					}
					out[i].Agents = append(out[i].Agents, a.UserID)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}
