package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/booking"
)

// calendarPage is the agents' view of bookings: a week (or a day) of columns and the
// list below.
type calendarPage struct {
	View       string // week or day
	Date       string
	Prev, Next string
	Zone       string
	Columns    []calendarColumn
	Mine       bool
}

type calendarColumn struct {
	Label string
	Date  string
	Items []calendarItem
}

type calendarItem struct {
	ID       int64
	Time     string
	TypeName string
	Name     string
	Email    string
	Agent    string
	Status   string
	Message  string
}

// pageBookings shows the calendar: ?view=week|day&date=2006-01-02&mine=1.
func (s *bookingArea) pageBookings(c echo.Context) error {
	ctx := c.Request().Context()
	d := s.pages.Page(c, "nav.bookings")
	loc, err := s.booking.Location(ctx)
	if err != nil {
		return err
	}
	view := c.QueryParam("view")
	if view != "day" {
		view = "week"
	}
	today := s.clock.Now().In(loc)
	day := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, loc)
	if t, err := time.ParseInLocation("2006-01-02", c.QueryParam("date"), loc); err == nil {
		day = t
	}
	n := 1
	if view == "week" {
		n = 7
		day = day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7)) // from Monday
	}
	end := day.AddDate(0, 0, n)
	f := booking.Filter{From: day, To: end}
	mine := c.QueryParam("mine") == "1"
	if mine {
		f.AgentID = mustPrincipal(c).User.ID
	}
	list, err := s.booking.Bookings(ctx, f)
	if err != nil {
		return err
	}
	types, err := s.booking.Types(ctx, false)
	if err != nil {
		return err
	}
	typeNames := map[int64]string{}
	for _, t := range types {
		typeNames[t.ID] = t.Name
	}
	users, err := s.users.ListUsers(ctx)
	if err != nil {
		return err
	}
	names := map[int64]string{}
	for _, u := range users {
		names[u.ID] = u.Name
	}
	p := calendarPage{View: view, Date: day.Format("2006-01-02"), Prev: day.AddDate(0, 0, -n).Format("2006-01-02"), Next: end.Format("2006-01-02"),
		Zone: loc.String(), Mine: mine}
	for i := 0; i < n; i++ {
		dd := day.AddDate(0, 0, i)
		p.Columns = append(p.Columns, calendarColumn{Label: dayLabel(dd, d.Lang), Date: dd.Format("2006-01-02")})
	}
	for _, b := range list {
		st := b.Start.In(loc)
		i := int(time.Date(st.Year(), st.Month(), st.Day(), 0, 0, 0, 0, loc).Sub(day).Hours()+12) / 24
		if i < 0 || i >= n {
			continue
		}
		p.Columns[i].Items = append(p.Columns[i].Items, calendarItem{ID: b.ID, Time: st.Format("15:04") + "–" + b.End.In(loc).Format("15:04"),
			TypeName: typeNames[b.TypeID], Name: b.Name, Email: b.Email, Agent: names[b.AgentID], Status: b.Status, Message: b.Message})
	}
	d.Data = p
	return s.pages.Render(c, http.StatusOK, "bookings", d)
}

// pageCancelBooking lets an agent cancel a booking; the visitor is told by e-mail.
func (s *bookingArea) pageCancelBooking(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	b, err := s.cancelBooking(c, id)
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/bookings?date="+b.Start.Format("2006-01-02"))
}

// cancelBooking cancels booking id for an agent; its visitor is told by e-mail.
func (s *bookingArea) cancelBooking(c echo.Context, id int64) (booking.Booking, error) {
	ctx := c.Request().Context()
	b, err := s.booking.Booking(ctx, id)
	if err != nil {
		return booking.Booking{}, err
	}
	return s.booking.Cancel(ctx, b)
}
