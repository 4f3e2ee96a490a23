package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/booking"
)

// bookPage is what the public booking pages show.
type bookPage struct {
	Types      []booking.Type
	Type       booking.Type
	Zone       string // the instance's time zone, shown; the visitor's own is added by book.js
	Days       []bookDay
	Prev, Next string // the weeks before and after, as from=
	Chosen     string // the slot the visitor picked, kept when the form comes back
	Booking    *bookingView
	Token      string // manage page: the visitor's token, for its forms
	Cancelled  bool
	Moved      bool
}

type bookDay struct {
	Label string
	Slots []bookSlot
}

type bookSlot struct {
	Value string // RFC 3339, UTC
	Label string // local time in the instance's zone
}

type bookingView struct {
	booking.Booking
	TypeName string
	When     string
}

// weekOf reads from= (a date in the instance's zone), defaulting to today, never
// before today.
func weekOf(c echo.Context, now time.Time, loc *time.Location) time.Time {
	today := now.In(loc)
	start := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, loc)
	if d, err := time.ParseInLocation("2006-01-02", c.QueryParam("from"), loc); err == nil && d.After(start) {
		start = d
	}
	return start
}

// slotDays groups slots by local day; a day whose clock changes shows each time with
// its zone, so the hour that happens twice can be told apart.
func slotDays(slots []booking.Slot, loc *time.Location, lang string) []bookDay {
	var days []bookDay
	var last string
	zones := map[string]map[string]bool{}
	for _, s := range slots {
		l := s.Start.In(loc)
		key := l.Format("2006-01-02")
		name, _ := l.Zone()
		if zones[key] == nil {
			zones[key] = map[string]bool{}
		}
		zones[key][name] = true
	}
	for _, s := range slots {
		l := s.Start.In(loc)
		key := l.Format("2006-01-02")
		if key != last {
			days = append(days, bookDay{Label: dayLabel(l, lang)})
			last = key
		}
		label := l.Format("15:04")
		if len(zones[key]) > 1 {
			label = l.Format("15:04 MST")
		}
		days[len(days)-1].Slots = append(days[len(days)-1].Slots, bookSlot{Value: s.Start.UTC().Format(time.RFC3339), Label: label})
	}
	return days
}

// dayLabel names t's day in its own zone: "Mittwoch, 4. November 2026".
func dayLabel(t time.Time, lang string) string {
	return catalog.For(lang, t.Location()).LongDate(t)
}

func (s *bookingArea) whenOf(b booking.Booking, loc *time.Location, lang string) string {
	st, en := b.Start.In(loc), b.End.In(loc)
	return dayLabel(st, lang) + ", " + st.Format("15:04 MST") + " – " + en.Format("15:04 MST")
}

// pageBookTypes lists what can be booked; with one type, it is shown at once.
func (s *bookingArea) pageBookTypes(c echo.Context) error {
	types, err := s.booking.Types(c.Request().Context(), true)
	if err != nil {
		return err
	}
	if len(types) == 1 {
		return c.Redirect(http.StatusSeeOther, "/book/"+types[0].Slug)
	}
	d := s.pages.Page(c, "book.title")
	d.Data = bookPage{Types: types}
	return s.pages.Render(c, http.StatusOK, "book", d)
}

// pageBookType shows a week of free times of one type and the form to book one.
func (s *bookingArea) pageBookType(c echo.Context) error {
	return s.renderBookType(c, http.StatusOK, s.pages.Page(c, "book.title"), "")
}

func (s *bookingArea) renderBookType(c echo.Context, status int, d pageData, chosen string) error {
	ctx := c.Request().Context()
	t, err := s.booking.TypeBySlug(ctx, c.Param("slug"))
	if err != nil {
		return err
	}
	p, err := s.week(c, t)
	if err != nil {
		return err
	}
	p.Chosen = chosen
	d.Title = t.Name
	d.Data = p
	return s.pages.Render(c, status, "book", d)
}

// week is one week of t's free times from from=.
func (s *bookingArea) week(c echo.Context, t booking.Type) (bookPage, error) {
	ctx := c.Request().Context()
	loc, err := s.booking.Location(ctx)
	if err != nil {
		return bookPage{}, err
	}
	from := weekOf(c, s.clock.Now(), loc)
	to := time.Date(from.Year(), from.Month(), from.Day()+7, 0, 0, 0, 0, loc)
	slots, err := s.booking.FreeSlots(ctx, t, from, to)
	if err != nil {
		return bookPage{}, err
	}
	p := bookPage{Type: t, Zone: loc.String(), Days: slotDays(slots, loc, lang(c.Request(), nil)), Next: to.Format("2006-01-02")}
	if from.After(s.clock.Now()) { // a later week: there is one before it to go back to
		p.Prev = from.AddDate(0, 0, -7).Format("2006-01-02")
	}
	return p, nil
}

// pageBookSubmit books the chosen time. A time taken meanwhile is said plainly, and
// the week is shown again with what is still free.
func (s *bookingArea) pageBookSubmit(c echo.Context) error {
	ctx := c.Request().Context()
	f, err := form(c)
	if err != nil {
		return err
	}
	d := s.pages.Page(c, "book.title")
	if wait := s.bookLimit.Take(addressKey(c)); wait > 0 {
		c.Response().Header().Set("Retry-After", itoa(int(wait.Seconds())+1))
		d.Error = plural(d.Lang, "contact.slow_down", int(wait.Minutes())+1)
		return s.renderBookType(c, http.StatusTooManyRequests, d, "")
	}
	t, err := s.booking.TypeBySlug(ctx, c.Param("slug"))
	if err != nil {
		return err
	}
	start, _ := time.Parse(time.RFC3339, f.Get("start"))
	for _, k := range []string{"name", "email", "message", "consent"} {
		d.Form[k] = f.Get(k)
	}
	b, _, err := s.booking.Book(ctx, t, booking.Request{Start: start, Name: f.Get("name"), Email: f.Get("email"), Message: f.Get("message"),
		Consent: f.Get("consent") == "yes"})
	if errors.Is(err, booking.ErrSlotTaken) {
		d.Error = translate(d.Lang, "book.taken")
		return s.renderBookType(c, http.StatusConflict, d, "")
	}
	if fields, invalid := fieldErrors(err); invalid {
		d.Errors, d.Error = fields, translate(d.Lang, "form.fix")
		if fields["start"] != "" {
			d.Error = translate(d.Lang, "book.taken")
		}
		return s.renderBookType(c, http.StatusUnprocessableEntity, d, f.Get("start"))
	}
	if err != nil {
		return err
	}
	return s.renderManage(c, http.StatusCreated, b, manageNotice{flash: "book.done"})
}

// manageNotice is what the manage page says above the booking: message keys.
type manageNotice struct {
	flash, err       string
	cancelled, moved bool
}

// renderManage shows a booking to its visitor, with cancel and reschedule.
func (s *bookingArea) renderManage(c echo.Context, status int, b booking.Booking, n manageNotice) error {
	ctx := c.Request().Context()
	d := s.pages.Page(c, "book.manage")
	loc, err := s.booking.Location(ctx)
	if err != nil {
		return err
	}
	t, err := s.booking.Type(ctx, b.TypeID)
	if err != nil {
		return err
	}
	p := bookPage{Type: t, Zone: loc.String(), Token: s.booking.Token(b), Cancelled: n.cancelled, Moved: n.moved,
		Booking: &bookingView{Booking: b, TypeName: t.Name, When: s.whenOf(b, loc, d.Lang)}}
	if b.Status == booking.Confirmed {
		if w, err := s.week(c, t); err == nil {
			p.Days, p.Next, p.Prev = w.Days, w.Next, w.Prev
		}
	}
	if n.flash != "" {
		d.Flash = translate(d.Lang, n.flash)
	}
	if n.err != "" {
		d.Error = translate(d.Lang, n.err)
	}
	d.Data = p
	return s.pages.Render(c, status, "book_manage", d)
}

// pageBookManage is the visitor's page behind the link in their e-mail.
func (s *bookingArea) pageBookManage(c echo.Context) error {
	b, err := s.booking.ByToken(c.Request().Context(), c.Param("token"))
	if err != nil {
		return err
	}
	return s.renderManage(c, http.StatusOK, b, manageNotice{})
}

func (s *bookingArea) pageBookCancel(c echo.Context) error {
	ctx := c.Request().Context()
	b, err := s.booking.ByToken(ctx, c.Param("token"))
	if err != nil {
		return err
	}
	if b, err = s.booking.Cancel(ctx, b); err != nil {
		return err
	}
	return s.renderManage(c, http.StatusOK, b, manageNotice{cancelled: true})
}

func (s *bookingArea) pageBookReschedule(c echo.Context) error {
	ctx := c.Request().Context()
	b, err := s.booking.ByToken(ctx, c.Param("token"))
	if err != nil {
		return err
	}
	f, err := form(c)
	if err != nil {
		return err
	}
	start, _ := time.Parse(time.RFC3339, f.Get("start"))
	moved, err := s.booking.Reschedule(ctx, b, start)
	if _, invalid := fieldErrors(err); invalid || errors.Is(err, booking.ErrSlotTaken) {
		return s.renderManage(c, http.StatusConflict, b, manageNotice{err: "book.taken"})
	}
	if err != nil {
		return err
	}
	return s.renderManage(c, http.StatusOK, moved, manageNotice{moved: true})
}
