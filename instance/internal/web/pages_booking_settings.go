package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/booking"
)

// bookingSettingsPage is the booking settings: the instance's (admins), the
// appointment types, one's own weekly hours and the days off.
type bookingSettingsPage struct {
	Config  booking.Config
	Types   []booking.Type
	Agents  []accounts.User
	Week    []weekdayHours
	DaysOff []booking.DayOff
	Names   map[int64]string
}

type weekdayHours struct {
	Weekday    int
	Label      string
	Start, End string
}

func (s *bookingArea) pageBookingSettings(c echo.Context) error {
	d := s.pages.Page(c, "settings.booking")
	if c.QueryParam("ok") != "" {
		d.Flash = translate(d.Lang, "common.saved")
	}
	return s.renderBookingSettings(c, http.StatusOK, d)
}

func (s *bookingArea) renderBookingSettings(c echo.Context, status int, d pageData) error {
	ctx := c.Request().Context()
	bk := s.booking
	cfg, err := bk.Config(ctx)
	if err != nil {
		return err
	}
	types, err := bk.Types(ctx, false)
	if err != nil {
		return err
	}
	users, err := s.users.ListUsers(ctx)
	if err != nil {
		return err
	}
	p := bookingSettingsPage{Config: cfg, Types: types, Names: map[int64]string{}}
	for _, u := range users {
		p.Names[u.ID] = u.Name
		if u.Active && u.Role.Can(accounts.BookingManage) {
			p.Agents = append(p.Agents, u)
		}
	}
	me := mustPrincipal(c).User.ID
	hours, err := bk.Hours(ctx, []int64{me})
	if err != nil {
		return err
	}
	for i := 1; i <= 7; i++ { // Monday first
		wd := time.Weekday(i % 7)
		w := weekdayHours{Weekday: int(wd), Label: dayName(wd, d.Lang)}
		for _, h := range hours {
			if h.Weekday == wd && w.Start == "" {
				w.Start, w.End = booking.Clock(h.Start), booking.Clock(h.End)
			}
		}
		p.Week = append(p.Week, w)
	}
	today := s.clock.Now().Format("2006-01-02")
	if p.DaysOff, err = bk.DaysOff(ctx, today, "9999-12-31"); err != nil {
		return err
	}
	d.Data = p
	return s.pages.Render(c, status, "booking_settings", d)
}

func dayName(wd time.Weekday, lang string) string {
	return catalog.For(lang, nil).Weekday(wd)
}

// bookingSettingsError shows the page again with the reasons, or passes other errors on.
func (s *bookingArea) bookingSettingsError(c echo.Context, err error) error {
	return s.pages.FormProblem(c, err, "settings.booking", "slug", func(d pageData, status int) error {
		return s.renderBookingSettings(c, status, d)
	})
}

func (s *bookingArea) pageSaveBookingConfig(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	reminder, _ := strconv.Atoi(f.Get("reminder_hours"))
	retention, _ := strconv.Atoi(f.Get("retention_days"))
	if _, err := s.booking.SetConfig(c.Request().Context(), booking.Config{TimeZone: f.Get("time_zone"), ReminderHours: reminder, RetentionDays: retention}); err != nil {
		return s.bookingSettingsError(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/settings/booking?ok=config")
}

func (s *bookingArea) pageCreateBookingType(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	num := func(k string) int { n, _ := strconv.Atoi(f.Get(k)); return n }
	t := booking.Type{Name: f.Get("name"), Slug: f.Get("slug"), Description: f.Get("description"), DurationMinutes: num("duration_minutes"),
		BufferBeforeMinutes: num("buffer_before_minutes"), BufferAfterMinutes: num("buffer_after_minutes"), MinNoticeMinutes: num("min_notice_minutes"),
		HorizonDays: num("horizon_days"), Active: true}
	for _, v := range f["agent_ids"] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			t.AgentIDs = append(t.AgentIDs, id)
		}
	}
	if _, err := s.booking.SaveType(c.Request().Context(), t); err != nil {
		return s.bookingSettingsError(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/settings/booking?ok=type")
}

func (s *bookingArea) pageToggleBookingType(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	t, err := s.booking.Type(ctx, id)
	if err != nil {
		return err
	}
	t.Active = !t.Active
	if _, err := s.booking.SaveType(ctx, t); err != nil {
		return s.bookingSettingsError(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/settings/booking?ok=type")
}

// pageSaveMyHours sets one's own weekly hours: a span per weekday, empty for a day off.
func (s *bookingArea) pageSaveMyHours(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	var hours []booking.Hours
	for wd := 0; wd < 7; wd++ {
		st, en := f.Get("start_"+strconv.Itoa(wd)), f.Get("end_"+strconv.Itoa(wd))
		if st == "" && en == "" {
			continue
		}
		sm, err1 := booking.ParseClock(st)
		em, err2 := booking.ParseClock(en)
		if err1 != nil || err2 != nil {
			return s.bookingSettingsError(c, instance.InvalidField("hours", "time_of_day", "times must be like 09:00"))
		}
		hours = append(hours, booking.Hours{Weekday: time.Weekday(wd), Start: sm, End: em})
	}
	if err := s.booking.SetHours(c.Request().Context(), mustPrincipal(c).User.ID, hours); err != nil {
		return s.bookingSettingsError(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/settings/booking?ok=hours")
}

func (s *bookingArea) pageAddDayOff(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	var user *int64
	if v := f.Get("user_id"); v != "" {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			user = &id
		}
	}
	if _, err := s.booking.AddDayOff(c.Request().Context(), user, f.Get("day"), f.Get("note")); err != nil {
		return s.bookingSettingsError(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/settings/booking?ok=day")
}

func (s *bookingArea) pageDeleteDayOff(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.booking.DeleteDayOff(c.Request().Context(), id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/booking?ok=day")
}
