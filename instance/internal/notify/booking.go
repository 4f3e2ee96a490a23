package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/booking"
)

// BookingMail tells visitors of their bookings (a confirmation with an .ics, a
// reminder, a cancellation) and the team's targets of new and cancelled bookings.
type BookingMail struct {
	Mailer *Mailer
	Hooks  *Hooks
	// Location is the instance's time zone, for the times in the e-mails.
	Location func(ctx context.Context) (*time.Location, error)
	Clock    func() time.Time
}

var _ booking.Events = (*BookingMail)(nil)

func (m *BookingMail) when(ctx context.Context, b booking.Booking) (string, *time.Location) {
	loc, err := m.Location(ctx)
	if err != nil {
		loc = time.UTC
	}
	s, e := b.Start.In(loc), b.End.In(loc)
	return fmt.Sprintf("%s, %s – %s (%s)", s.Format("Monday, 2 January 2006"), s.Format("15:04"), e.Format("15:04 MST"), loc), loc
}

func (m *BookingMail) mail(ctx context.Context, b booking.Booking, t booking.Type, subject, intro, manageURL string) error {
	when, loc := m.when(ctx, b)
	body := fmt.Sprintf("Hello %s,\n\n%s\n\n%s\n%s\n", b.Name, intro, t.Name, when)
	if manageURL != "" {
		body += fmt.Sprintf("\nTo cancel or move it: %s\n", manageURL)
	}
	msg := Mail{To: b.Email, Subject: subjectLine(subject), Body: body, Kind: "booking",
		AttachmentName: "appointment.ics", AttachmentType: "text/calendar; charset=utf-8; method=PUBLISH",
		AttachmentBody: ICS(b, t, loc, m.Hooks.BaseURL(), manageURL, m.Clock())}
	_, err := m.Mailer.Enqueue(ctx, msg)
	return err
}

// Booked confirms a booking (or its new time) to the visitor and tells the team.
func (m *BookingMail) Booked(ctx context.Context, b booking.Booking, t booking.Type, manageURL string) error {
	if err := m.mail(ctx, b, t, "Your appointment: "+t.Name, "your appointment is booked:", manageURL); err != nil {
		return err
	}
	when, _ := m.when(ctx, b)
	return m.Hooks.Publish(ctx, Event{Type: EventBookingNew, Title: fmt.Sprintf("New booking: %s with %s", t.Name, b.Name), Text: when + "\n" + b.Message,
		URL: fmt.Sprintf("%s/bookings?date=%s", m.Hooks.BaseURL(), b.Start.Format("2006-01-02")), Data: map[string]any{"booking_id": b.ID}})
}

// Cancelled tells the visitor and the team.
func (m *BookingMail) Cancelled(ctx context.Context, b booking.Booking, t booking.Type) error {
	if err := m.mail(ctx, b, t, "Cancelled: "+t.Name, "this appointment is cancelled:", ""); err != nil {
		return err
	}
	when, _ := m.when(ctx, b)
	return m.Hooks.Publish(ctx, Event{Type: EventBookingCancelled, Title: fmt.Sprintf("Booking cancelled: %s with %s", t.Name, b.Name), Text: when,
		URL: fmt.Sprintf("%s/bookings?date=%s", m.Hooks.BaseURL(), b.Start.Format("2006-01-02")), Data: map[string]any{"booking_id": b.ID}})
}

// Remind reminds the visitor of their appointment.
func (m *BookingMail) Remind(ctx context.Context, b booking.Booking, t booking.Type, manageURL string) error {
	return m.mail(ctx, b, t, "Reminder: "+t.Name, "a reminder of your appointment:", manageURL)
}
