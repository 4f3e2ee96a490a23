package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/tickets"
)

// Confirmer tells a requester that their request arrived.
type Confirmer interface {
	Confirm(ctx context.Context, t tickets.Ticket) error
}

// contactDone is the thanks page; Ref is 0 when there is no reference to give.
type contactDone struct{ Ref int64 }

func (s *ticketsArea) pageContact(c echo.Context) error {
	return s.pages.Render(c, http.StatusOK, "contact", s.pages.Page(c, "contact.title"))
}

func (s *ticketsArea) pagePrivacy(c echo.Context) error {
	return s.pages.Render(c, http.StatusOK, "privacy", s.pages.Page(c, "privacy.title"))
}

// pageContactSubmit turns the public form into a ticket. A filled honeypot field is a
// bot: it sees the same thanks and nothing is stored. Each address may post a few
// times an hour.
func (s *ticketsArea) pageContactSubmit(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	d := s.pages.Page(c, "contact.title")
	if wait := s.contactLimit.Take(addressKey(c)); wait > 0 {
		minutes := int(wait.Minutes()) + 1
		c.Response().Header().Set("Retry-After", itoa(int(wait.Seconds())+1))
		d.Error = plural(d.Lang, "contact.slow_down", minutes)
		return s.pages.Render(c, http.StatusTooManyRequests, "contact", d)
	}
	if strings.TrimSpace(f.Get("website")) != "" {
		s.log.InfoContext(c.Request().Context(), "contact form: honeypot filled; dropped", "ip", c.RealIP())
		d.Data = contactDone{}
		return s.pages.Render(c, http.StatusOK, "contact", d)
	}
	for _, k := range []string{"name", "email", "subject", "message", "consent"} {
		d.Form[k] = f.Get(k)
	}
	in := tickets.NewTicket{Subject: f.Get("subject"), RequesterName: f.Get("name"), RequesterEmail: f.Get("email"), Body: f.Get("message"), Source: "contact"}
	var t tickets.Ticket
	if f.Get("consent") != "yes" {
		// Check the other fields too, so the person sees every problem at once.
		_, verr := s.tickets.Validate(in)
		fields, _ := fieldErrors(verr)
		if fields == nil {
			fields = map[string]string{}
		}
		fields["consent"] = translate(d.Lang, "contact.consent_needed")
		d.Errors, d.Error = fields, translate(d.Lang, "form.fix")
		return s.pages.Render(c, http.StatusUnprocessableEntity, "contact", d)
	}
	if t, err = s.tickets.Create(c.Request().Context(), nil, in); err != nil {
		if fields, ok := fieldErrors(err); ok {
			d.Errors, d.Error = fields, translate(d.Lang, "form.fix")
			return s.pages.Render(c, http.StatusUnprocessableEntity, "contact", d)
		}
		return err
	}
	if s.confirm != nil {
		if err := s.confirm.Confirm(c.Request().Context(), t); err != nil {
			s.log.ErrorContext(c.Request().Context(), "contact confirmation", "ticket_id", t.ID, "error", err.Error())
		}
	}
	d.Data, d.Form = contactDone{Ref: t.ID}, map[string]string{}
	return s.pages.Render(c, http.StatusCreated, "contact", d)
}
