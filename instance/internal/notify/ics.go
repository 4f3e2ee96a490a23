package notify

import (
	"fmt"
	"net/url"
	"time"

	ical "github.com/arran4/golang-ical"
	"github.com/sproudstack/sproudchat/instance/internal/booking"
)

// ICS is a booking as an RFC 5545 calendar (github.com/arran4/golang-ical writes it):
// one event with its times in the instance's zone, and a VTIMEZONE describing that
// zone's offsets around the appointment, so every calendar shows the right time. A
// local time that occurs twice (the hour the clocks go back) is written in UTC, which
// cannot be misread.
func ICS(b booking.Booking, t booking.Type, loc *time.Location, baseURL, manageURL string, now time.Time) string {
	cal := ical.NewCalendar()
	cal.SetProductId("-//sproudchat//booking//EN")
	cal.SetMethod(ical.MethodPublish)
	addTimezone(cal, loc, b.Start)
	host := "sproudchat"
	if u, err := url.Parse(baseURL); err == nil && u.Host != "" {
		host = u.Host
	}
	ev := cal.AddEvent(fmt.Sprintf("booking-%d@%s", b.ID, host))
	ev.SetDtStampTime(now)
	ev.SetSequence(int(b.Start.Unix() / 60 % 1_000_000)) // a new time is a new version
	setTime(&ev.ComponentBase, ical.ComponentPropertyDtStart, b.Start, loc)
	setTime(&ev.ComponentBase, ical.ComponentPropertyDtEnd, b.End, loc)
	ev.SetSummary(t.Name)
	ev.SetDescription(fmt.Sprintf("%s\n\nCancel or reschedule: %s", t.Description, manageURL))
	ev.SetURL(manageURL)
	if b.Status == booking.Cancelled {
		ev.SetStatus(ical.ObjectStatusCancelled)
	} else {
		ev.SetStatus(ical.ObjectStatusConfirmed)
	}
	return cal.Serialize()
}

// setTime writes at in loc with its TZID when that local time names one instant, else
// in UTC.
func setTime(c *ical.ComponentBase, prop ical.ComponentProperty, at time.Time, loc *time.Location) {
	local := at.In(loc)
	if time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), local.Second(), 0, loc).Equal(at) &&
		!ambiguous(local, loc) {
		c.SetProperty(prop, local.Format("20060102T150405"), ical.WithTZID(loc.String()))
		return
	}
	c.SetProperty(prop, at.UTC().Format("20060102T150405Z"))
}

// ambiguous tells whether the wall-clock time of local happens twice in loc: another
// instant up to three hours away shows the same clock (the clocks went back).
func ambiguous(local time.Time, loc *time.Location) bool {
	wall := local.Format("2006-01-02T15:04:05")
	for d := -3 * time.Hour; d <= 3*time.Hour; d += 15 * time.Minute {
		if d != 0 && local.Add(d).In(loc).Format("2006-01-02T15:04:05") == wall {
			return true
		}
	}
	return false
}

// addTimezone describes loc's offsets in the year around at: each change as a
// STANDARD or DAYLIGHT observance starting then (or one observance for a zone without
// changes).
func addTimezone(cal *ical.Calendar, loc *time.Location, at time.Time) {
	tz := cal.AddTimezone(loc.String())
	from := at.AddDate(-1, 0, 0)
	to := at.AddDate(1, 0, 0)
	type change struct {
		at       time.Time
		fromOff  int
		toOff    int
		name     string
		daylight bool
	}
	var changes []change
	_, prevOff := from.In(loc).Zone()
	for tt := from; tt.Before(to); tt = tt.Add(time.Hour) {
		name, off := tt.In(loc).Zone()
		if off == prevOff {
			continue
		}
		// Narrow to the second the offset changed.
		lo, hi := tt.Add(-time.Hour), tt
		for hi.Sub(lo) > time.Second {
			mid := lo.Add(hi.Sub(lo) / 2)
			if _, o := mid.In(loc).Zone(); o == off {
				hi = mid
			} else {
				lo = mid
			}
		}
		changes = append(changes, change{at: hi, fromOff: prevOff, toOff: off, name: name, daylight: off > prevOff})
		prevOff = off
	}
	offset := func(s int) string {
		sign := "+"
		if s < 0 {
			sign, s = "-", -s
		}
		return fmt.Sprintf("%s%02d%02d", sign, s/3600, s%3600/60)
	}
	if len(changes) == 0 {
		name, off := at.In(loc).Zone()
		std := tz.AddStandard()
		std.AddProperty(ical.ComponentPropertyDtStart, "19700101T000000")
		std.AddProperty(ical.ComponentProperty(ical.PropertyTzoffsetfrom), offset(off))
		std.AddProperty(ical.ComponentProperty(ical.PropertyTzoffsetto), offset(off))
		std.AddProperty(ical.ComponentProperty(ical.PropertyTzname), name)
		return
	}
	for _, c := range changes {
		var base *ical.ComponentBase
		if c.daylight {
			d := &ical.Daylight{}
			tz.Components = append(tz.Components, d)
			base = &d.ComponentBase
		} else {
			base = &tz.AddStandard().ComponentBase
		}
		// DTSTART of an observance is the local time of the change in the offset before it.
		onset := c.at.Add(time.Duration(c.fromOff) * time.Second).UTC()
		base.AddProperty(ical.ComponentPropertyDtStart, onset.Format("20060102T150405"))
		base.AddProperty(ical.ComponentProperty(ical.PropertyTzoffsetfrom), offset(c.fromOff))
		base.AddProperty(ical.ComponentProperty(ical.PropertyTzoffsetto), offset(c.toOff))
		base.AddProperty(ical.ComponentProperty(ical.PropertyTzname), c.name)
	}
}
