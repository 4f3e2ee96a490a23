package web

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	ical "github.com/arran4/golang-ical"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/booking"
)

// icsOf finds the calendar file in the latest booking mail.
func icsOf(t *testing.T, h *harness) (subject, body, ics string) {
	t.Helper()
	msgs, err := h.mailer.Outbox(t.Context(), 1)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("no mail: %v", err)
	}
	raw, err := h.mailer.Render(msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		t.Fatalf("not multipart: %s", m.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/calendar") {
			dec, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(b), "\r\n", ""))
			if err != nil {
				t.Fatal(err)
			}
			ics = string(dec)
		} else {
			body = string(b)
		}
	}
	return msgs[0].Subject, body, ics
}

// TestBookingPortal: a visitor books on /book; the confirmation mail carries an .ics
// that a maintained iCalendar library reads back as the same instant; the link in it
// opens a page to move or cancel the appointment; the team's targets are told.
func TestBookingPortal(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	rx := newHookInbox(t)
	if r := h.loggedIn(accounts.RoleAdmin).json("POST", "/api/v1/notifications/targets", map[string]any{"kind": "webhook", "url": rx.srv.URL,
		"events": []string{"booking.new", "booking.cancelled"}}); r.status != 201 {
		t.Fatalf("target: %d", r.status)
	}
	v := h.client()
	page := v.get("/book/" + h.bookType.Slug)
	// Wednesday 4 November: 10:00 is taken by the harness's booking, 10:30 is free.
	if page.status != 200 || strings.Contains(page.body, `value="2026-11-04T09:00:00Z"`) || !strings.Contains(page.body, `value="2026-11-04T09:30:00Z"`) ||
		!strings.Contains(page.body, "Europe/Berlin") {
		t.Fatalf("the week: %d\n%s", page.status, page.body)
	}
	before := h.counts()
	bad := v.form("/book/"+h.bookType.Slug, url.Values{"start": {"2026-11-04T09:30:00Z"}, "name": {"Ida"}, "email": {"not-an-address"}})
	if bad.status != 422 || !strings.Contains(bad.body, "must be an e-mail address") || !strings.Contains(bad.body, "needed to store your details") ||
		!strings.Contains(bad.body, `value="2026-11-04T09:30:00Z" required checked`) {
		t.Fatalf("bad form: %d", bad.status)
	}
	taken := v.form("/book/"+h.bookType.Slug, url.Values{"start": {"2026-11-04T09:00:00Z"}, "name": {"Ida"}, "email": {"ida@example.org"}, "consent": {"yes"}})
	if taken.status != 422 || !strings.Contains(taken.body, "just been booked") {
		t.Fatalf("a taken time: %d", taken.status)
	}
	if after := h.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("refused bookings wrote: %v → %v", before, after)
	}
	done := v.form("/book/"+h.bookType.Slug, url.Values{"start": {"2026-11-04T09:30:00Z"}, "name": {"Ida <b>"}, "email": {"ida@example.org"},
		"message": {"Bitte mit Rückruf"}, "consent": {"yes"}})
	if done.status != 201 || !strings.Contains(done.body, "10:30 CET") || !strings.Contains(done.body, "Ida &lt;b&gt;") {
		t.Fatalf("booked: %d\n%s", done.status, done.body)
	}
	subject, body, ics := icsOf(t, h)
	if !strings.Contains(subject, h.bookType.Name) || !strings.Contains(body, "10:30") {
		t.Fatalf("mail %q %q", subject, body)
	}
	cal, err := ical.ParseCalendar(strings.NewReader(ics))
	if err != nil {
		t.Fatalf("parse .ics: %v\n%s", err, ics)
	}
	start, _ := cal.Events()[0].GetStartAt()
	if !start.Equal(time.Date(2026, 11, 4, 9, 30, 0, 0, time.UTC)) || len(cal.Timezones()) != 1 {
		t.Fatalf(".ics start %v\n%s", start, ics)
	}
	link := regexp.MustCompile(`/book/manage/[0-9]+\.[0-9a-f]+`).FindString(ics)
	if link == "" {
		t.Fatalf("no manage link in the .ics:\n%s", ics)
	}
	if r := v.get(link + "x"); r.status != 404 {
		t.Fatalf("a forged link: %d", r.status)
	}
	if r := v.get(link); r.status != 200 || strings.Contains(h.logs.String(), strings.TrimPrefix(link, "/book/manage/")) {
		t.Fatalf("the manage page: %d, or its token in the log", r.status)
	}
	moved := v.form(link+"/reschedule", url.Values{"start": {"2026-11-05T13:00:00Z"}})
	if moved.status != 200 || !strings.Contains(moved.body, `id="booking-moved"`) || !strings.Contains(moved.body, "14:00 CET") {
		t.Fatalf("move: %d\n%s", moved.status, moved.body)
	}
	if r := v.form(link+"/reschedule", url.Values{"start": {"2026-11-04T09:00:00Z"}}); r.status != 409 {
		t.Fatalf("move onto a taken time: %d", r.status)
	}
	cancelled := v.form(link+"/cancel", url.Values{})
	if cancelled.status != 200 || !strings.Contains(cancelled.body, `id="booking-cancelled"`) {
		t.Fatalf("cancel: %d", cancelled.status)
	}
	if _, _, ics := icsOf(t, h); !strings.Contains(ics, "STATUS:CANCELLED") {
		t.Fatalf("the cancellation's .ics:\n%s", ics)
	}
	h.server.opts.Hooks.Deliver(t.Context())
	if got := strings.Join(rx.types(), " "); got != "booking.new booking.new booking.cancelled" {
		t.Fatalf("the team was told %q", got)
	}
	// With every type paused, /book says so instead of showing nothing.
	h.bookType.Active = false
	if _, err := h.server.opts.Booking.SaveType(t.Context(), h.bookType); err != nil {
		t.Fatal(err)
	}
	if p := v.get("/book"); p.status != 200 || !strings.Contains(p.body, `id="no-types"`) {
		t.Fatalf("/book without types: %d", p.status)
	}
	if p := v.get("/book/" + h.bookType.Slug); p.status != 404 {
		t.Fatalf("a paused type's page: %d", p.status)
	}
	h.bookType.Active = true
	h.server.opts.Booking.SaveType(t.Context(), h.bookType)
	// The freed time is offered again.
	if p := v.get("/book/" + h.bookType.Slug + "?from=2026-11-05"); !strings.Contains(p.body, `value="2026-11-05T13:00:00Z"`) {
		t.Fatal("the cancelled time is not offered again")
	}
}

// TestBookingAPIAndCalendar: agents see bookings in the calendar and the API; admins
// manage types, hours and days off; wrong input changes nothing.
func TestBookingAPIAndCalendar(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	admin, agent, viewer := h.loggedIn(accounts.RoleAdmin), h.loggedIn(accounts.RoleAgent), h.loggedIn(accounts.RoleViewer)
	cal := agent.get("/bookings?date=2026-11-04")
	if cal.status != 200 || !strings.Contains(cal.body, fmt.Sprintf(`data-booking="%d"`, h.booking.ID)) || !strings.Contains(cal.body, "10:00–10:30") {
		t.Fatalf("calendar: %d", cal.status)
	}
	if day := agent.get("/bookings?view=day&date=2026-11-05"); strings.Contains(day.body, fmt.Sprintf(`data-booking="%d"`, h.booking.ID)) {
		t.Fatal("another day shows the booking")
	}
	var list struct{ Bookings []bookingJSON }
	viewer.get("/api/v1/bookings?from=2026-11-01T00:00:00Z&to=2026-11-08T00:00:00Z").decode(t, &list)
	if len(list.Bookings) != 1 || list.Bookings[0].Name != "Walker" {
		t.Fatalf("list %+v", list.Bookings)
	}
	before := h.counts()
	for _, bad := range []map[string]any{{"name": "X", "slug": "Bad Slug", "duration_minutes": 30, "agent_ids": []int64{1}},
		{"name": "X", "slug": "x", "duration_minutes": 1, "agent_ids": []int64{1}}, {"name": "X", "slug": "x", "duration_minutes": 30}} {
		if r := admin.json("POST", "/api/v1/booking/types", bad); r.status != 422 {
			t.Fatalf("type %v: %d %s", bad, r.status, r.body)
		}
	}
	if r := admin.json("POST", "/api/v1/booking/types", map[string]any{"name": "X", "slug": h.bookType.Slug, "duration_minutes": 30, "agent_ids": []int64{1}}); r.status != 409 {
		t.Fatalf("slug twice: %d", r.status)
	}
	agentID := h.users[accounts.RoleAgent].ID
	if r := agent.json("PUT", fmt.Sprintf("/api/v1/booking/hours/%d", agentID), map[string]any{"hours": []map[string]any{
		{"weekday": 1, "start": "09:00", "end": "12:00"}, {"weekday": 1, "start": "11:00", "end": "13:00"}}}); r.status != 422 || !strings.Contains(r.body, "overlaps") {
		t.Fatalf("overlapping hours: %d %s", r.status, r.body)
	}
	if r := agent.json("PUT", fmt.Sprintf("/api/v1/booking/hours/%d", h.users[accounts.RoleSupervisor].ID), map[string]any{"hours": []any{}}); r.status != 403 {
		t.Fatalf("an agent sets another's hours: %d", r.status)
	}
	if r := admin.json("POST", "/api/v1/booking/days-off", map[string]any{"day": "24.12.2026"}); r.status != 422 {
		t.Fatalf("a bad day: %d", r.status)
	}
	if after := h.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("refused changes wrote: %v → %v", before, after)
	}
	if r := agent.json("PUT", fmt.Sprintf("/api/v1/booking/hours/%d", agentID), map[string]any{"hours": []map[string]any{
		{"weekday": 4, "start": "13:00", "end": "15:00"}}}); r.status != 200 || !strings.Contains(r.body, `"start":"13:00"`) {
		t.Fatalf("set hours: %d %s", r.status, r.body)
	}
	var slots struct {
		TimeZone string `json:"time_zone"`
		Slots    []slotJSON
	}
	h.client().get(fmt.Sprintf("/api/v1/booking/types/%d/slots?from=2026-11-02T00:00:00Z&to=2026-11-09T00:00:00Z", h.bookType.ID)).decode(t, &slots)
	if slots.TimeZone != "Europe/Berlin" || len(slots.Slots) != 4 || !slots.Slots[0].Start.Equal(time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("slots %+v", slots)
	}
	if r := admin.json("POST", "/api/v1/booking/days-off", map[string]any{"day": "2026-11-05", "note": "Betriebsausflug"}); r.status != 201 {
		t.Fatalf("day off: %d", r.status)
	}
	h.client().get(fmt.Sprintf("/api/v1/booking/types/%d/slots?from=2026-11-02T00:00:00Z&to=2026-11-09T00:00:00Z", h.bookType.ID)).decode(t, &slots)
	if len(slots.Slots) != 0 {
		t.Fatalf("slots on a holiday: %+v", slots.Slots)
	}
	if r := agent.json("POST", fmt.Sprintf("/api/v1/bookings/%d/cancel", h.booking.ID), nil); r.status != 200 || !strings.Contains(r.body, `"status":"cancelled"`) {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	if r := admin.json("PUT", "/api/v1/settings/booking", map[string]any{"time_zone": "Mars/Olympus"}); r.status != 422 {
		t.Fatalf("a bad zone: %d", r.status)
	}
	if r := admin.json("PUT", "/api/v1/settings/booking", map[string]any{"time_zone": "America/New_York", "retention_days": 14}); r.status != 200 ||
		!strings.Contains(r.body, `"retention_days":14`) {
		t.Fatalf("settings: %d %s", r.status, r.body)
	}
}

// TestBookingReminder: the configured hours before the appointment its visitor gets a
// reminder, once, and none for a cancelled one.
func TestBookingReminder(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	ctx := t.Context()
	bk := h.server.opts.Booking
	if _, err := bk.SetConfig(ctx, booking.Config{TimeZone: "Europe/Berlin", ReminderHours: 2, RetentionDays: 30}); err != nil {
		t.Fatal(err)
	}
	other, _, err := bk.Book(ctx, h.bookType, booking.Request{Start: time.Date(2026, 11, 4, 10, 0, 0, 0, time.UTC), Name: "Anton", Email: "anton@example.org", Consent: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bk.Cancel(ctx, other); err != nil {
		t.Fatal(err)
	}
	reminders := func() int {
		n, err := bk.SendReminders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	h.clock.Advance(time.Date(2026, 11, 4, 6, 59, 0, 0, time.UTC).Sub(h.clock.Now())) // 2 h 1 min before 10:00 Berlin
	if n := reminders(); n != 0 {
		t.Fatalf("%d reminders too early", n)
	}
	h.clock.Advance(2 * time.Minute)
	if n := reminders(); n != 1 {
		t.Fatalf("%d reminders, want 1 (the cancelled booking gets none)", n)
	}
	if n := reminders(); n != 0 {
		t.Fatalf("reminded again: %d", n)
	}
	if subject, body, ics := icsOf(t, h); !strings.HasPrefix(subject, "Reminder:") || !strings.Contains(body, "Walker") || !strings.Contains(ics, "BEGIN:VEVENT") {
		t.Fatalf("reminder %q %q", subject, body)
	}
}

// TestBookingSettingsPage: an agent sets their own hours; an admin adds a type, a
// holiday and changes the zone; wrong values are shown with their reasons and change
// nothing.
func TestBookingSettingsPage(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	admin, agent := h.loggedIn(accounts.RoleAdmin), h.loggedIn(accounts.RoleAgent)
	if p := agent.get("/settings/booking"); p.status != 200 || !strings.Contains(p.body, `name="start_1" value="09:00"`) || strings.Contains(p.body, `id="type-form"`) {
		t.Fatalf("the agent's page: %d", p.status)
	}
	before := h.counts()
	if r := agent.form("/settings/booking/hours", url.Values{"start_1": {"09:00"}, "end_1": {"8:00"}}); r.status != 422 {
		t.Fatalf("hours ending before they start: %d", r.status)
	}
	if r := admin.form("/settings/booking/types", url.Values{"name": {"Beratung"}, "slug": {h.bookType.Slug}, "duration_minutes": {"30"},
		"horizon_days": {"60"}, "agent_ids": {fmt.Sprint(h.users[accounts.RoleAgent].ID)}}); r.status != 409 {
		t.Fatalf("a slug twice: %d", r.status)
	}
	if r := admin.form("/settings/booking/config", url.Values{"time_zone": {"Berlin"}, "reminder_hours": {"24"}, "retention_days": {"30"}}); r.status != 422 {
		t.Fatalf("a bad zone: %d", r.status)
	}
	if after := h.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("refused changes wrote: %v → %v", before, after)
	}
	if r := agent.form("/settings/booking/hours", url.Values{"start_2": {"08:00"}, "end_2": {"12:30"}}); r.status != 303 {
		t.Fatalf("hours: %d %s", r.status, r.body)
	}
	hours, _ := h.server.opts.Booking.Hours(t.Context(), []int64{h.users[accounts.RoleAgent].ID})
	if len(hours) != 1 || hours[0].Weekday != time.Tuesday || hours[0].End != 12*60+30 {
		t.Fatalf("hours %+v", hours)
	}
	if r := admin.form("/settings/booking/types", url.Values{"name": {"Rückruf"}, "slug": {"rueckruf"}, "duration_minutes": {"15"},
		"horizon_days": {"30"}, "agent_ids": {fmt.Sprint(h.users[accounts.RoleAgent].ID)}}); r.status != 303 {
		t.Fatalf("type: %d %s", r.status, r.body)
	}
	if r := admin.form("/settings/booking/days-off", url.Values{"day": {"2026-12-31"}, "note": {"Silvester"}}); r.status != 303 {
		t.Fatalf("day off: %d", r.status)
	}
	if p := admin.get("/settings/booking"); !strings.Contains(p.body, "rueckruf") || !strings.Contains(p.body, "Silvester") {
		t.Fatal("the page does not show the new type and day off")
	}
}
