package booking

import (
	"sort"
	"time"
)

// Interval is a span of time, [Start, End).
type Interval struct{ Start, End time.Time }

func (i Interval) overlaps(o Interval) bool { return i.Start.Before(o.End) && o.Start.Before(i.End) }

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

// free tells whether an appointment at slot, with the type's buffers (buffered), fits
// around busy: neither may the new appointment's buffers cover an existing one, nor an
// existing one's buffers the new appointment. busy is sorted by Blocked.Start.
func free(busy []Busy, slot, buffered Interval) bool {
	i := sort.Search(len(busy), func(i int) bool { return !busy[i].Blocked.Start.Before(buffered.Start.Add(-maxBlocked)) })
	for ; i < len(busy) && busy[i].Blocked.Start.Before(buffered.End); i++ {
		if buffered.overlaps(busy[i].Time) || slot.overlaps(busy[i].Blocked) {
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
	dur := time.Duration(t.DurationMinutes) * time.Minute
	before, after := time.Duration(t.BufferBeforeMinutes)*time.Minute, time.Duration(t.BufferAfterMinutes)*time.Minute
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
	bySlot := map[int64]*Slot{}
	first := from.In(loc)
	day := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, loc)
	for ; day.Before(to); day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc) {
		key := day.Format("2006-01-02")
		for _, a := range agents {
			if a.DaysOff[key] {
				continue
			}
			for _, h := range a.Hours {
				if h.Weekday != day.Weekday() {
					continue
				}
				winStart := time.Date(day.Year(), day.Month(), day.Day(), h.Start/60, h.Start%60, 0, 0, loc)
				winEnd := time.Date(day.Year(), day.Month(), day.Day(), h.End/60, h.End%60, 0, 0, loc)
				for s := winStart; !s.Add(dur).After(winEnd); s = s.Add(dur) {
					if s.Before(from) || !s.Before(to) {
						continue
					}
					slot := Interval{s, s.Add(dur)}
					if !free(a.Busy, slot, Interval{s.Add(-before), slot.End.Add(after)}) {
						continue
					}
					k := s.Unix()
					if bySlot[k] == nil {
						bySlot[k] = &Slot{Start: s.UTC(), End: slot.End.UTC()}
					}
					bySlot[k].Agents = append(bySlot[k].Agents, a.UserID)
				}
			}
		}
	}
	out := make([]Slot, 0, len(bySlot))
	for _, s := range bySlot {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}
