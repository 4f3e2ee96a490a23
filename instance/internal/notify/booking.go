package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/booking"
	"github.com/sproudstack/sproudchat/instance/internal/i18n"
)

// BookingMail tells visitors of their bookings (a confirmation with an .ics, a
// reminder, a cancellation) and the team's targets of new and cancelled bookings.
type BookingMail struct {
	Mailer *Mailer
	Hooks  *Hooks
	// Location is the instance's time zone, for the times in the e-mails.
	Location func(ctx context.Context) (*time.Location, error)
	Clock    func() time.Time
	// Lang is the language of the visitors' e-mails and the team's notifications
	// ("" is English).
	Lang string
}

var _ booking.Events = (*BookingMail)(nil)

// when says when b is, in the instance's zone: "Tuesday, December 1, 2026, 2:05 PM –
// 2:35 PM (Europe/Berlin)".
func (m *BookingMail) when(tr i18n.Translator, b booking.Booking) string {
	return tr.T("mail.booking.when", "Date", tr.LongDate(b.Start), "Start", tr.Time(b.Start), "End", tr.Time(b.End), "Zone", tr.Zone())
}

// mail sends the visitor the message of kind (booked, cancelled, reminder) with the
// appointment as an .ics file.
func (m *BookingMail) mail(ctx context.Context, b booking.Booking, t booking.Type, kind, manageURL string) error {
	tr := translator(ctx, m.Location, i18n.LangFrom(ctx), m.Lang)
	body := tr.T("mail.hello", "Name", b.Name) + "\n\n" + tr.T("mail.booking."+kind) + "\n\n" + t.Name + "\n" + m.when(tr, b) + "\n"
	if manageURL != "" {
		body += "\n" + tr.T("mail.booking.manage", "URL", manageURL) + "\n"
	}
	msg := Mail{To: b.Email, Subject: subjectLine(tr.T("mail.booking."+kind+"_subject", "Type", t.Name)), Body: body, Kind: "booking",
		AttachmentName: "appointment.ics", AttachmentType: "text/calendar; charset=utf-8; method=PUBLISH",
		AttachmentBody: ICS(b, t, tr.Location(), m.Hooks.BaseURL(), manageURL, m.Clock())}
	_, err := m.Mailer.Enqueue(ctx, msg)
	return err
}

// Booked confirms a booking (or its new time) to the visitor and tells the team.
func (m *BookingMail) Booked(ctx context.Context, b booking.Booking, t booking.Type, manageURL string) error {
	if err := m.mail(ctx, b, t, "booked", manageURL); err != nil {
		return err
	}
	tr := m.Hooks.translator(ctx, m.Location)
	return m.Hooks.Publish(ctx, Event{Type: EventBookingNew, Title: tr.T("event.booking_new", "Type", t.Name, "Name", b.Name), Text: m.when(tr, b) + "\n" + b.Message,
		URL: fmt.Sprintf("%s/bookings?date=%s", m.Hooks.BaseURL(), b.Start.Format("2006-01-02")), Data: map[string]any{"booking_id": b.ID}})
}

// Cancelled tells the visitor and the team.
func (m *BookingMail) Cancelled(ctx context.Context, b booking.Booking, t booking.Type) error {
	if err := m.mail(ctx, b, t, "cancelled", ""); err != nil {
		return err
	}
	tr := m.Hooks.translator(ctx, m.Location)
	return m.Hooks.Publish(ctx, Event{Type: EventBookingCancelled, Title: tr.T("event.booking_cancelled", "Type", t.Name, "Name", b.Name), Text: m.when(tr, b),
		URL: fmt.Sprintf("%s/bookings?date=%s", m.Hooks.BaseURL(), b.Start.Format("2006-01-02")), Data: map[string]any{"booking_id": b.ID}})
}

// Remind reminds the visitor of their appointment.
func (m *BookingMail) Remind(ctx context.Context, b booking.Booking, t booking.Type, manageURL string) error {
	return m.mail(ctx, b, t, "reminder", manageURL)
}
