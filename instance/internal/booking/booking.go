// Package booking is the appointment booking portal: appointment types, each agent's
// weekly hours and days off, free slots in the instance's time zone, bookings that are
// never doubled, confirmations with an .ics, reminders, cancel and reschedule links,
// and the erasure of a booking's personal data after the appointment.
package booking

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the instance runs FROM scratch: no zoneinfo on disk
	"unicode/utf8"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/worker"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// Type is an appointment type: what a visitor books.
type Type struct {
	ID                  int64
	Name                string
	Slug                string
	Description         string
	DurationMinutes     int
	BufferBeforeMinutes int
	BufferAfterMinutes  int
	MinNoticeMinutes    int
	HorizonDays         int
	AgentIDs            []int64 // who offers it
	Active              bool
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// Validate checks t. Returns an Invalid *instance.Error.
func (t *Type) Validate() error {
	p := instance.Fields{}
	t.Name, t.Description = strings.TrimSpace(t.Name), strings.TrimSpace(t.Description)
	t.Slug = strings.ToLower(strings.TrimSpace(t.Slug))
	if t.Name == "" || utf8.RuneCountInString(t.Name) > 100 {
		p.Add("name", "required_max", "is required, at most %d characters", 100)
	}
	if t.Slug == "" || len(t.Slug) > 60 || strings.Trim(t.Slug, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		p.Add("slug", "slug_60", "must be 1 to %d lower-case letters, digits or -", 60)
	}
	if utf8.RuneCountInString(t.Description) > 2000 {
		p.Add("description", "too_long", "is longer than %d characters", 2000)
	}
	if t.DurationMinutes < 5 || t.DurationMinutes > 480 {
		p.Add("duration_minutes", "between", "must be between %d and %d", 5, 480)
	}
	for _, b := range []struct {
		name string
		v    int
	}{{"buffer_before_minutes", t.BufferBeforeMinutes}, {"buffer_after_minutes", t.BufferAfterMinutes}} {
		if b.v < 0 || b.v > 240 {
			p.Add(b.name, "between", "must be between %d and %d", 0, 240)
		}
	}
	if t.MinNoticeMinutes < 0 || t.MinNoticeMinutes > 60*24*30 {
		p.Add("min_notice_minutes", "between", "must be between %d and %d", 0, 43200)
	}
	if t.HorizonDays < 1 || t.HorizonDays > 365 {
		p.Add("horizon_days", "between", "must be between %d and %d", 1, 365)
	}
	if len(t.AgentIDs) == 0 {
		p.Add("agent_ids", "no_agents", "name at least one agent who offers it")
	}
	return p.Err()
}

// DayOff is a day one agent, or everyone (UserID nil: a holiday), is not available.
type DayOff struct {
	ID     int64
	UserID *int64
	Day    string // 2006-01-02 in the instance's zone
	Note   string
}

// Booking states.
const (
	Confirmed = "confirmed"
	Cancelled = "cancelled"
)

// Booking is an appointment a visitor booked.
type Booking struct {
	ID           int64
	TypeID       int64
	AgentID      int64
	Start, End   time.Time
	Blocked      Interval
	Name         string
	Email        string
	Message      string
	Status       string
	Nonce        string // part of the signed token in the visitor's links
	ReminderSent *time.Time
	CancelledAt  *time.Time
	AnonymizedAt *time.Time
	CreatedAt    time.Time
}

// Store is what booking needs of persistence.
type Store interface {
	CreateType(ctx context.Context, t *Type) error
	// UpdateType returns instance.ErrNotFound.
	UpdateType(ctx context.Context, t Type) error
	// FindType and FindTypeBySlug return instance.ErrNotFound.
	FindType(ctx context.Context, id int64) (Type, error)
	FindTypeBySlug(ctx context.Context, slug string) (Type, error)
	ListTypes(ctx context.Context, activeOnly bool) ([]Type, error)
	// SetHours replaces a user's weekly hours.
	SetHours(ctx context.Context, userID int64, hours []Hours) error
	Hours(ctx context.Context, userIDs []int64) ([]Hours, error)
	AddDayOff(ctx context.Context, d *DayOff) error
	// DeleteDayOff returns instance.ErrNotFound.
	DeleteDayOff(ctx context.Context, id int64) error
	DaysOff(ctx context.Context, fromDay, toDay string) ([]DayOff, error)
	// Busy returns the confirmed bookings of the users blocking any time in [from, to),
	// sorted by blocked start.
	Busy(ctx context.Context, userIDs []int64, from, to time.Time) (map[int64][]Busy, error)
	// Insert stores b for the first of agents who is free for it, checking and
	// inserting under a lock per agent so two bookings can never both take one agent's
	// time. It sets b.AgentID and b.ID. Returns ErrSlotTaken when none is free.
	Insert(ctx context.Context, b *Booking, agents []int64) error
	// Move gives a booking a new time under the same rules (other bookings only).
	// Returns ErrSlotTaken.
	Move(ctx context.Context, b *Booking, agents []int64) error
	// FindBooking returns instance.ErrNotFound.
	FindBooking(ctx context.Context, id int64) (Booking, error)
	ListBookings(ctx context.Context, f Filter) ([]Booking, error)
	// Cancel marks a confirmed booking cancelled. Returns instance.ErrNotFound.
	Cancel(ctx context.Context, id int64, at time.Time) error
	// DueReminders returns confirmed bookings starting in (now, until] not reminded yet.
	DueReminders(ctx context.Context, now, until time.Time) ([]Booking, error)
	MarkReminded(ctx context.Context, id int64, at time.Time) error
	// Anonymize erases name, e-mail and message of bookings that ended before t and
	// returns how many.
	Anonymize(ctx context.Context, endedBefore, at time.Time) (int64, error)
	// Counts returns the number of bookings per status that started in [from, to),
	// erased ones included: what the reports keep.
	Counts(ctx context.Context, from, to time.Time) (map[string]int64, error)
}

// Filter narrows a booking list.
type Filter struct {
	From, To time.Time // start in [From, To)
	AgentID  int64     // 0: everyone
	Status   string    // "": all
	Limit    int
}

// ErrSlotTaken: the time was booked by someone else meanwhile.
var ErrSlotTaken = fmt.Errorf("%w: this time has just been booked by someone else; please pick another", instance.ErrConflict)

// Events hears of bookings (notifications, e-mail).
type Events interface {
	Booked(ctx context.Context, b Booking, t Type, manageURL string) error
	Cancelled(ctx context.Context, b Booking, t Type) error
	Remind(ctx context.Context, b Booking, t Type, manageURL string) error
}

// Settings keeps the instance's booking settings.
type Settings interface {
	Get(ctx context.Context, key string, v any) error
	Set(ctx context.Context, key string, v any, at time.Time) error
}

// Options configure the service.
type Options struct {
	Clock     clock.Clock
	Logger    *slog.Logger
	SecretKey []byte // signs the visitor's cancel and reschedule links
	BaseURL   string
	Events    Events
}

// Service is booking's use cases.
type Service struct {
	store    Store
	settings Settings
	o        Options
	busy     busyCache
	zones    sync.Map // IANA name → *time.Location
}

// NewService returns the booking service.
func NewService(st Store, settings Settings, o Options) *Service {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	return &Service{store: st, settings: settings, o: o, busy: busyCache{entries: map[int64]busyEntry{}}}
}

// Config is the instance's booking settings.
type Config struct {
	TimeZone       string `json:"time_zone"`       // IANA name
	ReminderHours  int    `json:"reminder_hours"`  // before the appointment; 0: none
	RetentionDays  int    `json:"retention_days"`  // after it, personal data is erased
	RequireConsent bool   `json:"require_consent"` // always true; kept for the API's shape
}

// DefaultConfig holds until an admin changes it.
var DefaultConfig = Config{TimeZone: "Europe/Berlin", ReminderHours: 24, RetentionDays: 30, RequireConsent: true}

const configKey = "booking.config"

// Config returns the booking settings.
func (s *Service) Config(ctx context.Context) (Config, error) {
	c := DefaultConfig
	if err := s.settings.Get(ctx, configKey, &c); err != nil {
		return Config{}, err
	}
	return c, nil
}

// SetConfig changes the booking settings. Returns an Invalid *instance.Error.
func (s *Service) SetConfig(ctx context.Context, c Config) (Config, error) {
	p := instance.Fields{}
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" || c.TimeZone == "Local" {
		p.Add("time_zone", "time_zone", "must be a time zone such as Europe/Berlin")
	}
	if c.ReminderHours < 0 || c.ReminderHours > 24*14 {
		p.Add("reminder_hours", "between", "must be between %d and %d", 0, 336)
	}
	if c.RetentionDays < 1 || c.RetentionDays > 3650 {
		p.Add("retention_days", "between", "must be between %d and %d", 1, 3650)
	}
	if err := p.Err(); err != nil {
		return Config{}, err
	}
	c.RequireConsent = true
	return c, s.settings.Set(ctx, configKey, c, s.o.Clock.Now())
}

// Location is the instance's time zone.
func (s *Service) Location(ctx context.Context) (*time.Location, error) {
	c, err := s.Config(ctx)
	if err != nil {
		return nil, err
	}
	if loc, ok := s.zones.Load(c.TimeZone); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(c.TimeZone) // parses the zone's rules: once per zone
	if err != nil {
		return nil, err
	}
	s.zones.Store(c.TimeZone, loc)
	return loc, nil
}

// SaveType creates (ID 0) or changes an appointment type. Returns a
// instance.Error with Fields, instance.ErrConflict for a slug in use, or
// instance.ErrNotFound.
func (s *Service) SaveType(ctx context.Context, t Type) (Type, error) {
	if err := t.Validate(); err != nil {
		return Type{}, err
	}
	t.AgentIDs = slices.Compact(slices.Sorted(slices.Values(t.AgentIDs)))
	now := s.o.Clock.Now()
	t.UpdatedAt = now
	if t.ID == 0 {
		t.CreatedAt = now
		if err := s.store.CreateType(ctx, &t); err != nil {
			return Type{}, err
		}
		return t, nil
	}
	old, err := s.store.FindType(ctx, t.ID)
	if err != nil {
		return Type{}, err
	}
	t.CreatedAt = old.CreatedAt
	return t, s.store.UpdateType(ctx, t)
}

// Types lists appointment types; only active ones when activeOnly.
func (s *Service) Types(ctx context.Context, activeOnly bool) ([]Type, error) {
	return s.store.ListTypes(ctx, activeOnly)
}

// TypeBySlug returns an active type. Returns instance.ErrNotFound.
func (s *Service) TypeBySlug(ctx context.Context, slug string) (Type, error) {
	t, err := s.store.FindTypeBySlug(ctx, slug)
	if err == nil && !t.Active {
		err = instance.ErrNotFound
	}
	return t, err
}

// Type returns a type by id. Returns instance.ErrNotFound.
func (s *Service) Type(ctx context.Context, id int64) (Type, error) { return s.store.FindType(ctx, id) }

// SetHours replaces an agent's weekly hours. Spans must lie within a day, start before
// they end and not overlap. Returns an Invalid *instance.Error.
func (s *Service) SetHours(ctx context.Context, userID int64, hours []Hours) error {
	p := instance.Fields{}
	sorted := slices.Clone(hours)
	slices.SortFunc(sorted, func(a, b Hours) int {
		if a.Weekday != b.Weekday {
			return int(a.Weekday) - int(b.Weekday)
		}
		return a.Start - b.Start
	})
	for i, h := range sorted {
		if h.Weekday < 0 || h.Weekday > 6 || h.Start < 0 || h.End > 24*60 || h.Start >= h.End {
			p.Add("hours", "span_not_in_day", "%s %s–%s is not a span within one day", h.Weekday, Clock(h.Start), Clock(h.End))
			break
		}
		if i > 0 && sorted[i-1].Weekday == h.Weekday && sorted[i-1].End > h.Start {
			p.Add("hours", "span_overlap", "%s: %s–%s overlaps %s–%s", h.Weekday, Clock(sorted[i-1].Start), Clock(sorted[i-1].End), Clock(h.Start), Clock(h.End))
			break
		}
		sorted[i].UserID = userID
	}
	if len(hours) > 100 {
		p.Add("hours", "too_many_spans", "at most %d spans", 100)
	}
	if err := p.Err(); err != nil {
		return err
	}
	return s.store.SetHours(ctx, userID, sorted)
}

// Hours returns the weekly hours of the users.
func (s *Service) Hours(ctx context.Context, userIDs []int64) ([]Hours, error) {
	return s.store.Hours(ctx, userIDs)
}

// Clock writes minutes after midnight as 15:04.
func Clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// ParseClock reads 15:04 (24:00 allowed) as minutes after midnight.
func ParseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time such as 09:30", s)
	}
	return hh*60 + mm, nil
}

// AddDayOff records a day off for one agent or, with userID nil, everyone. Returns a
// instance.Error with Fields.
func (s *Service) AddDayOff(ctx context.Context, userID *int64, day, note string) (DayOff, error) {
	if _, err := time.Parse("2006-01-02", day); err != nil {
		return DayOff{}, instance.InvalidField("day", "date", "must be a date such as 2026-12-24")
	}
	if utf8.RuneCountInString(note) > 200 {
		return DayOff{}, instance.InvalidField("note", "too_long", "is longer than %d characters", 200)
	}
	d := DayOff{UserID: userID, Day: day, Note: strings.TrimSpace(note)}
	return d, s.store.AddDayOff(ctx, &d)
}

// DeleteDayOff removes a day off. Returns instance.ErrNotFound.
func (s *Service) DeleteDayOff(ctx context.Context, id int64) error {
	return s.store.DeleteDayOff(ctx, id)
}

// DaysOff lists the days off between two dates (inclusive).
func (s *Service) DaysOff(ctx context.Context, fromDay, toDay string) ([]DayOff, error) {
	return s.store.DaysOff(ctx, fromDay, toDay)
}

// FreeSlots lists the bookable times of type t in [from, to).
func (s *Service) FreeSlots(ctx context.Context, t Type, from, to time.Time) ([]Slot, error) {
	loc, err := s.Location(ctx)
	if err != nil {
		return nil, err
	}
	scheds, err := s.schedules(ctx, t, from, to, loc, 0)
	if err != nil {
		return nil, err
	}
	return Slots(t, scheds, from, to, s.o.Clock.Now(), loc), nil
}

// schedules loads what the slot computation needs for t's agents, leaving out the
// booking being moved (skip).
func (s *Service) schedules(ctx context.Context, t Type, from, to time.Time, loc *time.Location, skip int64) ([]Schedule, error) {
	hours, err := s.store.Hours(ctx, t.AgentIDs)
	if err != nil {
		return nil, err
	}
	off, err := s.store.DaysOff(ctx, from.In(loc).AddDate(0, 0, -1).Format("2006-01-02"), to.In(loc).AddDate(0, 0, 1).Format("2006-01-02"))
	if err != nil {
		return nil, err
	}
	busy, err := s.busyOf(ctx, t.AgentIDs, from.Add(-maxBlocked), to.Add(maxBlocked))
	if err != nil {
		return nil, err
	}
	out := make([]Schedule, 0, len(t.AgentIDs))
	for _, id := range t.AgentIDs {
		sc := Schedule{UserID: id, DaysOff: map[string]bool{}}
		for _, h := range hours {
			if h.UserID == id {
				sc.Hours = append(sc.Hours, h)
			}
		}
		for _, d := range off {
			if d.UserID == nil || *d.UserID == id {
				sc.DaysOff[d.Day] = true
			}
		}
		for _, b := range busy[id] {
			if b.BookingID != skip {
				sc.Busy = append(sc.Busy, b)
			}
		}
		out = append(out, sc)
	}
	return out, nil
}

// Request is a visitor's booking.
type Request struct {
	Start   time.Time
	Name    string
	Email   string
	Message string
	Consent bool
}

func (r *Request) validate() error {
	p := instance.Fields{}
	r.Name, r.Email, r.Message = strings.TrimSpace(r.Name), strings.ToLower(strings.TrimSpace(r.Email)), strings.TrimSpace(r.Message)
	if r.Name == "" || utf8.RuneCountInString(r.Name) > 100 {
		p.Add("name", "required_max", "is required, at most %d characters", 100)
	}
	if !accounts.ValidEmail(r.Email) {
		p.Add("email", "email", "must be an e-mail address")
	}
	if utf8.RuneCountInString(r.Message) > 2000 {
		p.Add("message", "too_long", "is longer than %d characters", 2000)
	}
	if !r.Consent {
		p.Add("consent", "booking_consent", "is needed to store your details for the appointment")
	}
	if r.Start.IsZero() {
		p.Add("start", "pick_time", "pick a time")
	}
	return p.Err()
}

// Book books the slot starting at r.Start for the first free agent (the one with the
// fewest bookings around it first). Exactly one of any number of visitors booking the
// same agent's time at once succeeds; the others get ErrSlotTaken. Returns a
// instance.Error with Fields for a bad request or a time that is not a free slot.
func (s *Service) Book(ctx context.Context, t Type, r Request) (Booking, string, error) {
	if err := r.validate(); err != nil {
		return Booking{}, "", err
	}
	agents, err := s.agentsFor(ctx, t, r.Start, 0)
	if err != nil {
		return Booking{}, "", err
	}
	now := s.o.Clock.Now()
	b := Booking{TypeID: t.ID, Name: r.Name, Email: r.Email, Message: r.Message, Status: Confirmed, Nonce: randomHex(12), CreatedAt: now}
	s.setTime(&b, t, r.Start)
	err = s.store.Insert(ctx, &b, agents)
	s.busy.forget(agents...)
	if err != nil {
		return Booking{}, "", err
	}
	link := s.ManageURL(b)
	if s.o.Events != nil {
		if err := s.o.Events.Booked(ctx, b, t, link); err != nil {
			s.o.Logger.ErrorContext(ctx, "tell of booking", "booking_id", b.ID, "error", err.Error())
		}
	}
	return b, link, nil
}

func (s *Service) setTime(b *Booking, t Type, start time.Time) {
	b.Start = start.UTC()
	b.End = b.Start.Add(time.Duration(t.DurationMinutes) * time.Minute)
	b.Blocked = Interval{b.Start.Add(-time.Duration(t.BufferBeforeMinutes) * time.Minute), b.End.Add(time.Duration(t.BufferAfterMinutes) * time.Minute)}
}

// agentsFor returns who is free at start by the schedule (a slot the page offered),
// least booked first. The store checks again under its lock.
func (s *Service) agentsFor(ctx context.Context, t Type, start time.Time, skip int64) ([]int64, error) {
	loc, err := s.Location(ctx)
	if err != nil {
		return nil, err
	}
	day := start.In(loc)
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc)
	to := time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc)
	scheds, err := s.schedules(ctx, t, from, to, loc, skip)
	if err != nil {
		return nil, err
	}
	load := map[int64]int{}
	for _, sc := range scheds {
		load[sc.UserID] = len(sc.Busy)
	}
	for _, slot := range Slots(t, scheds, from, to, s.o.Clock.Now(), loc) {
		if slot.Start.Equal(start) {
			agents := slices.Clone(slot.Agents)
			slices.SortStableFunc(agents, func(a, b int64) int { return load[a] - load[b] })
			return agents, nil
		}
	}
	return nil, instance.InvalidField("start", "slot_not_free", "is not a free time for this appointment; please pick one of those shown")
}

// Token is what a visitor's links carry: the booking id and an HMAC of it and its
// nonce, so nobody can guess another booking's link.
func (s *Service) Token(b Booking) string {
	m := hmac.New(sha256.New, s.o.SecretKey)
	fmt.Fprintf(m, "booking:%d:%s", b.ID, b.Nonce)
	return strconv.FormatInt(b.ID, 10) + "." + hex.EncodeToString(m.Sum(nil))[:32]
}

// ManageURL is the visitor's page to cancel or reschedule.
func (s *Service) ManageURL(b Booking) string { return s.o.BaseURL + "/book/manage/" + s.Token(b) }

// ByToken returns the booking a visitor's link names. Any token not made by Token is
// instance.ErrNotFound.
func (s *Service) ByToken(ctx context.Context, token string) (Booking, error) {
	idPart, _, ok := strings.Cut(token, ".")
	id, err := strconv.ParseInt(idPart, 10, 64)
	if !ok || err != nil || id <= 0 {
		return Booking{}, instance.ErrNotFound
	}
	b, err := s.store.FindBooking(ctx, id)
	if err != nil {
		return Booking{}, err
	}
	if !hmac.Equal([]byte(s.Token(b)), []byte(token)) || b.AnonymizedAt != nil {
		return Booking{}, instance.ErrNotFound
	}
	return b, nil
}

// Cancel cancels a booking (by the visitor's link or an agent). Cancelling twice
// changes nothing. Returns instance.ErrNotFound.
func (s *Service) Cancel(ctx context.Context, b Booking) (Booking, error) {
	if b.Status == Cancelled {
		return b, nil
	}
	now := s.o.Clock.Now()
	err := s.store.Cancel(ctx, b.ID, now)
	s.busy.forget(b.AgentID)
	if err != nil {
		return Booking{}, err
	}
	b.Status, b.CancelledAt = Cancelled, &now
	if t, err := s.store.FindType(ctx, b.TypeID); err == nil && s.o.Events != nil {
		if err := s.o.Events.Cancelled(ctx, b, t); err != nil {
			s.o.Logger.ErrorContext(ctx, "tell of cancellation", "booking_id", b.ID, "error", err.Error())
		}
	}
	return b, nil
}

// Reschedule moves a confirmed booking to another free slot, keeping its links.
// Returns ErrSlotTaken or an Invalid *instance.Error.
func (s *Service) Reschedule(ctx context.Context, b Booking, start time.Time) (Booking, error) {
	if b.Status != Confirmed {
		return Booking{}, instance.InvalidField("booking", "booking_cancelled", "is cancelled")
	}
	t, err := s.store.FindType(ctx, b.TypeID)
	if err != nil {
		return Booking{}, err
	}
	agents, err := s.agentsFor(ctx, t, start, b.ID)
	if err != nil {
		return Booking{}, err
	}
	was := b.AgentID
	s.setTime(&b, t, start)
	b.ReminderSent = nil
	err = s.store.Move(ctx, &b, agents)
	s.busy.forget(append(agents, was)...)
	if err != nil {
		return Booking{}, err
	}
	if s.o.Events != nil {
		if err := s.o.Events.Booked(ctx, b, t, s.ManageURL(b)); err != nil {
			s.o.Logger.ErrorContext(ctx, "tell of rescheduling", "booking_id", b.ID, "error", err.Error())
		}
	}
	return b, nil
}

// Bookings lists bookings.
func (s *Service) Bookings(ctx context.Context, f Filter) ([]Booking, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 500
	}
	return s.store.ListBookings(ctx, f)
}

// Booking returns one booking. Returns instance.ErrNotFound.
func (s *Service) Booking(ctx context.Context, id int64) (Booking, error) {
	return s.store.FindBooking(ctx, id)
}

// SendReminders reminds the visitors of appointments starting within the configured
// time, once each.
func (s *Service) SendReminders(ctx context.Context) (int, error) { return s.sendReminders(ctx, nil) }

// sendReminders reminds under ctx, taking no new booking once stop is closed: the one
// being reminded of is marked reminded.
func (s *Service) sendReminders(ctx context.Context, stop <-chan struct{}) (int, error) {
	c, err := s.Config(ctx)
	if err != nil || c.ReminderHours == 0 || s.o.Events == nil {
		return 0, err
	}
	now := s.o.Clock.Now()
	due, err := s.store.DueReminders(ctx, now, now.Add(time.Duration(c.ReminderHours)*time.Hour))
	if err != nil {
		return 0, err
	}
	for i, b := range due {
		if worker.Stopped(stop) {
			return i, nil
		}
		t, err := s.store.FindType(ctx, b.TypeID)
		if err != nil {
			return 0, err
		}
		if err := s.o.Events.Remind(ctx, b, t, s.ManageURL(b)); err != nil {
			return 0, err
		}
		if err := s.store.MarkReminded(ctx, b.ID, now); err != nil {
			return 0, err
		}
	}
	return len(due), nil
}

// Retain erases the personal data (name, e-mail, message) of bookings whose
// appointment ended more than the retention days ago; the bookings stay, anonymous,
// for the reports.
func (s *Service) Retain(ctx context.Context) (int64, error) {
	c, err := s.Config(ctx)
	if err != nil {
		return 0, err
	}
	now := s.o.Clock.Now()
	return s.store.Anonymize(ctx, now.AddDate(0, 0, -c.RetentionDays), now)
}

// Counts returns bookings per status that started in [from, to).
func (s *Service) Counts(ctx context.Context, from, to time.Time) (map[string]int64, error) {
	return s.store.Counts(ctx, from, to)
}

// Run sends reminders and erases old personal data every o.Every until ctx ends; then
// it returns once the reminder being sent is recorded (see worker.Loop).
func (s *Service) Run(ctx context.Context, o worker.Options) {
	worker.Loop(ctx, o, func(work context.Context) {
		if _, err := s.sendReminders(work, ctx.Done()); err != nil && work.Err() == nil {
			s.o.Logger.ErrorContext(work, "booking reminders", "error", err.Error())
		}
		if ctx.Err() != nil {
			return
		}
		if _, err := s.Retain(work); err != nil && work.Err() == nil {
			s.o.Logger.ErrorContext(work, "booking retention", "error", err.Error())
		}
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// busyCache keeps each agent's confirmed bookings in memory: the slot pages ask for
// them on every view, and they change only through this service (which forgets an
// agent's on every booking, move or cancellation). An entry also expires after
// busyTTL, for changes made elsewhere; a stale entry can only show a taken time, which
// the store then refuses under its lock.
type busyCache struct {
	mu      sync.Mutex
	gen     uint64 // bumped by every forget: a load that raced a write is not kept
	entries map[int64]busyEntry
}

type busyEntry struct {
	from, to, loaded time.Time
	list             []Busy
}

const busyTTL = 30 * time.Second

func (c *busyCache) forget(agents ...int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, a := range agents {
		delete(c.entries, a)
	}
}

// busyOf returns the agents' bookings blocking time in [from, to) (and possibly more).
func (s *Service) busyOf(ctx context.Context, agents []int64, from, to time.Time) (map[int64][]Busy, error) {
	now := s.o.Clock.Now()
	out := make(map[int64][]Busy, len(agents))
	var missing []int64
	s.busy.mu.Lock()
	gen := s.busy.gen
	for _, a := range agents {
		e, ok := s.busy.entries[a]
		if !ok || e.from.After(from) || e.to.Before(to) || now.Sub(e.loaded) > busyTTL || e.loaded.After(now) {
			missing = append(missing, a)
			continue
		}
		out[a] = e.list
	}
	s.busy.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	// Load generously, so the next weeks' pages find it too.
	lf, lt := from, to
	if early := now.Add(-maxBlocked); early.Before(lf) {
		lf = early
	}
	if late := now.AddDate(0, 0, 366); late.After(lt) {
		lt = late
	}
	loaded, err := s.store.Busy(ctx, missing, lf, lt)
	if err != nil {
		return nil, err
	}
	s.busy.mu.Lock()
	defer s.busy.mu.Unlock()
	for _, a := range missing {
		out[a] = loaded[a]
		if s.busy.gen == gen {
			s.busy.entries[a] = busyEntry{from: lf, to: lt, loaded: now, list: loaded[a]}
		}
	}
	return out, nil
}
