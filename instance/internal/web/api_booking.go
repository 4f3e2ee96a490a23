package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/booking"
	"github.com/sproudstack/sproudchat/instance/internal/ratelimit"
	"github.com/sproudstack/sproudchat/instance/internal/web/page"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/platform/httpbody"
)

// bookingService is what the booking pages and API need of booking.Service.
type bookingService interface {
	Types(ctx context.Context, activeOnly bool) ([]booking.Type, error)
	Type(ctx context.Context, id int64) (booking.Type, error)
	TypeBySlug(ctx context.Context, slug string) (booking.Type, error)
	SaveType(ctx context.Context, t booking.Type) (booking.Type, error)
	Config(ctx context.Context) (booking.Config, error)
	SetConfig(ctx context.Context, c booking.Config) (booking.Config, error)
	Location(ctx context.Context) (*time.Location, error)
	Hours(ctx context.Context, userIDs []int64) ([]booking.Hours, error)
	SetHours(ctx context.Context, userID int64, hours []booking.Hours) error
	DaysOff(ctx context.Context, fromDay, toDay string) ([]booking.DayOff, error)
	AddDayOff(ctx context.Context, userID *int64, day, note string) (booking.DayOff, error)
	DeleteDayOff(ctx context.Context, id int64) error
	FreeSlots(ctx context.Context, t booking.Type, from, to time.Time) ([]booking.Slot, error)
	Book(ctx context.Context, t booking.Type, r booking.Request) (booking.Booking, string, error)
	Booking(ctx context.Context, id int64) (booking.Booking, error)
	Bookings(ctx context.Context, f booking.Filter) ([]booking.Booking, error)
	ByToken(ctx context.Context, token string) (booking.Booking, error)
	Token(b booking.Booking) string
	Cancel(ctx context.Context, b booking.Booking) (booking.Booking, error)
	Reschedule(ctx context.Context, b booking.Booking, start time.Time) (booking.Booking, error)
}

// bookingArea serves the public booking pages, the team's bookings and their settings,
// and the booking API.
type bookingArea struct {
	booking bookingService
	users   userDirectory
	pages   *page.Renderer
	clock   clock.Clock
	// bookLimit allows each address 10 booking attempts an hour.
	bookLimit *ratelimit.Limiter
}

type bookingTypeJSON struct {
	ID                  int64   `json:"id"`
	Name                string  `json:"name"`
	Slug                string  `json:"slug"`
	Description         string  `json:"description"`
	DurationMinutes     int     `json:"duration_minutes"`
	BufferBeforeMinutes int     `json:"buffer_before_minutes"`
	BufferAfterMinutes  int     `json:"buffer_after_minutes"`
	MinNoticeMinutes    int     `json:"min_notice_minutes"`
	HorizonDays         int     `json:"horizon_days"`
	AgentIDs            []int64 `json:"agent_ids"`
	Active              bool    `json:"active"`
}

func toBookingTypeJSON(t booking.Type) bookingTypeJSON {
	return bookingTypeJSON{ID: t.ID, Name: t.Name, Slug: t.Slug, Description: t.Description, DurationMinutes: t.DurationMinutes,
		BufferBeforeMinutes: t.BufferBeforeMinutes, BufferAfterMinutes: t.BufferAfterMinutes, MinNoticeMinutes: t.MinNoticeMinutes,
		HorizonDays: t.HorizonDays, AgentIDs: t.AgentIDs, Active: t.Active}
}

func (j bookingTypeJSON) domain() booking.Type {
	return booking.Type{ID: j.ID, Name: j.Name, Slug: j.Slug, Description: j.Description, DurationMinutes: j.DurationMinutes,
		BufferBeforeMinutes: j.BufferBeforeMinutes, BufferAfterMinutes: j.BufferAfterMinutes, MinNoticeMinutes: j.MinNoticeMinutes,
		HorizonDays: j.HorizonDays, AgentIDs: j.AgentIDs, Active: j.Active}
}

type bookingJSON struct {
	ID          int64      `json:"id"`
	TypeID      int64      `json:"type_id"`
	AgentID     int64      `json:"agent_id"`
	Start       time.Time  `json:"start"`
	End         time.Time  `json:"end"`
	Name        string     `json:"name"`
	Email       string     `json:"email"`
	Message     string     `json:"message"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	CancelledAt *time.Time `json:"cancelled_at"`
	Anonymized  bool       `json:"anonymized"`
}

func toBookingJSON(b booking.Booking) bookingJSON {
	return bookingJSON{ID: b.ID, TypeID: b.TypeID, AgentID: b.AgentID, Start: b.Start, End: b.End, Name: b.Name, Email: b.Email, Message: b.Message,
		Status: b.Status, CreatedAt: b.CreatedAt, CancelledAt: b.CancelledAt, Anonymized: b.AnonymizedAt != nil}
}

func (s *bookingArea) apiBookingTypes(c echo.Context) error {
	list, err := s.booking.Types(c.Request().Context(), false)
	if err != nil {
		return err
	}
	out := make([]bookingTypeJSON, len(list))
	for i, t := range list {
		out[i] = toBookingTypeJSON(t)
	}
	return c.JSON(http.StatusOK, map[string]any{"types": out})
}

func (s *bookingArea) apiCreateBookingType(c echo.Context) error {
	var in bookingTypeJSON
	in.HorizonDays, in.Active = 60, true
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	in.ID = 0
	t, err := s.booking.SaveType(c.Request().Context(), in.domain())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toBookingTypeJSON(t))
}

func (s *bookingArea) apiUpdateBookingType(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	cur, err := s.booking.Type(ctx, id)
	if err != nil {
		return err
	}
	in := toBookingTypeJSON(cur) // fields the request leaves out stay
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	in.ID = id
	t, err := s.booking.SaveType(ctx, in.domain())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toBookingTypeJSON(t))
}

type slotJSON struct {
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Agents int       `json:"agents_free"`
}

// apiBookingSlots lists a type's free times: ?from=&to= (RFC 3339), a week by default.
func (s *bookingArea) apiBookingSlots(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	t, err := s.booking.Type(ctx, id)
	if err != nil || !t.Active {
		return instance.ErrNotFound
	}
	from, to := s.clock.Now(), time.Time{}
	if v := c.QueryParam("from"); v != "" {
		if from, err = time.Parse(time.RFC3339, v); err != nil {
			return instance.InvalidField("from", "rfc3339", "must be an RFC 3339 time")
		}
	}
	to = from.AddDate(0, 0, 7)
	if v := c.QueryParam("to"); v != "" {
		if to, err = time.Parse(time.RFC3339, v); err != nil || to.Sub(from) > 62*24*time.Hour {
			return instance.InvalidField("to", "rfc3339_range", "must be an RFC 3339 time at most %d days after from", 62)
		}
	}
	slots, err := s.booking.FreeSlots(ctx, t, from, to)
	if err != nil {
		return err
	}
	loc, err := s.booking.Location(ctx)
	if err != nil {
		return err
	}
	out := make([]slotJSON, len(slots))
	for i, sl := range slots {
		out[i] = slotJSON{Start: sl.Start, End: sl.End, Agents: len(sl.Agents)}
	}
	return c.JSON(http.StatusOK, map[string]any{"time_zone": loc.String(), "slots": out})
}

// apiBookings lists bookings: ?from=&to= (RFC 3339), ?agent_id=, ?status=.
func (s *bookingArea) apiBookings(c echo.Context) error {
	var f booking.Filter
	var err error
	for _, q := range []struct {
		name string
		to   *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := c.QueryParam(q.name); v != "" {
			if *q.to, err = time.Parse(time.RFC3339, v); err != nil {
				return instance.InvalidField(q.name, "rfc3339", "must be an RFC 3339 time")
			}
		}
	}
	if v := c.QueryParam("agent_id"); v != "" {
		if f.AgentID, err = strconv.ParseInt(v, 10, 64); err != nil {
			return instance.InvalidField("agent_id", "user_id", "must be a user id")
		}
	}
	f.Status = c.QueryParam("status")
	if f.Status != "" && f.Status != booking.Confirmed && f.Status != booking.Cancelled {
		return instance.InvalidField("status", "one_of", "must be %s", "confirmed or cancelled")
	}
	list, err := s.booking.Bookings(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := make([]bookingJSON, len(list))
	for i, b := range list {
		out[i] = toBookingJSON(b)
	}
	return c.JSON(http.StatusOK, map[string]any{"bookings": out})
}

func (s *bookingArea) apiGetBooking(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	b, err := s.booking.Booking(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toBookingJSON(b))
}

// apiCreateBooking books for a customer (an agent on the phone): the same rules as the
// public page.
func (s *bookingArea) apiCreateBooking(c echo.Context) error {
	var in struct {
		TypeID  int64     `json:"type_id"`
		Start   time.Time `json:"start"`
		Name    string    `json:"name"`
		Email   string    `json:"email"`
		Message string    `json:"message"`
		Consent bool      `json:"consent"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	t, err := s.booking.Type(ctx, in.TypeID)
	if err != nil {
		return instance.InvalidField("type_id", "no_such_booking_type", "is not an appointment type")
	}
	b, _, err := s.booking.Book(ctx, t, booking.Request{Start: in.Start, Name: in.Name, Email: in.Email, Message: in.Message, Consent: in.Consent})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toBookingJSON(b))
}

func (s *bookingArea) apiCancelBooking(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	b, err := s.cancelBooking(c, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toBookingJSON(b))
}

type hoursJSON struct {
	Weekday int    `json:"weekday"` // 0 Sunday … 6 Saturday
	Start   string `json:"start"`   // 09:00
	End     string `json:"end"`     // 17:00
}

func (s *bookingArea) apiBookingHours(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	hours, err := s.booking.Hours(c.Request().Context(), []int64{id})
	if err != nil {
		return err
	}
	out := make([]hoursJSON, len(hours))
	for i, h := range hours {
		out[i] = hoursJSON{Weekday: int(h.Weekday), Start: booking.Clock(h.Start), End: booking.Clock(h.End)}
	}
	return c.JSON(http.StatusOK, map[string]any{"user_id": id, "hours": out})
}

// apiSetBookingHours replaces a user's weekly hours: one's own with booking.manage,
// anyone's with settings.manage.
func (s *bookingArea) apiSetBookingHours(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	p := mustPrincipal(c)
	if id != p.User.ID && !p.Can(accounts.SettingsManage) {
		return errForbidden
	}
	ctx := c.Request().Context()
	if _, err := s.users.FindUser(ctx, id); err != nil {
		return err
	}
	var in struct {
		Hours []hoursJSON `json:"hours"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	hours := make([]booking.Hours, 0, len(in.Hours))
	for _, h := range in.Hours {
		st, err1 := booking.ParseClock(h.Start)
		en, err2 := booking.ParseClock(h.End)
		if err1 != nil || err2 != nil {
			return instance.InvalidField("hours", "time_of_day", "times must be like 09:00")
		}
		hours = append(hours, booking.Hours{Weekday: time.Weekday(h.Weekday), Start: st, End: en})
	}
	if err := s.booking.SetHours(ctx, id, hours); err != nil {
		return err
	}
	return s.apiBookingHours(c)
}

type dayOffJSON struct {
	ID     int64  `json:"id"`
	UserID *int64 `json:"user_id"`
	Day    string `json:"day"`
	Note   string `json:"note"`
}

func (s *bookingArea) apiDaysOff(c echo.Context) error {
	from, to := c.QueryParam("from"), c.QueryParam("to")
	if from == "" {
		from = s.clock.Now().Format("2006-01-02")
	}
	if to == "" {
		to = "9999-12-31"
	}
	list, err := s.booking.DaysOff(c.Request().Context(), from, to)
	if err != nil {
		return err
	}
	out := make([]dayOffJSON, len(list))
	for i, d := range list {
		out[i] = dayOffJSON{ID: d.ID, UserID: d.UserID, Day: d.Day, Note: d.Note}
	}
	return c.JSON(http.StatusOK, map[string]any{"days_off": out})
}

func (s *bookingArea) apiAddDayOff(c echo.Context) error {
	var in dayOffJSON
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if in.UserID != nil {
		if _, err := s.users.FindUser(ctx, *in.UserID); err != nil {
			return instance.InvalidField("user_id", "no_such_user", "is not a user")
		}
	}
	d, err := s.booking.AddDayOff(ctx, in.UserID, in.Day, in.Note)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, dayOffJSON{ID: d.ID, UserID: d.UserID, Day: d.Day, Note: d.Note})
}

func (s *bookingArea) apiDeleteDayOff(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.booking.DeleteDayOff(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *bookingArea) apiBookingSettings(c echo.Context) error {
	cfg, err := s.booking.Config(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cfg)
}

func (s *bookingArea) apiSetBookingSettings(c echo.Context) error {
	ctx := c.Request().Context()
	cfg, err := s.booking.Config(ctx)
	if err != nil {
		return err
	}
	if err := httpbody.DecodeJSON(c.Request(), &cfg); err != nil {
		return err
	}
	if cfg, err = s.booking.SetConfig(ctx, cfg); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cfg)
}
