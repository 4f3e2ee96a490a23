package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/kb"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
)

func (s *ticketsArea) pageTickets(c echo.Context) error {
	d := s.pages.Page(c, "nav.tickets")
	f, err := ticketFilter(c)
	if err != nil {
		return err
	}
	items, next, err := s.tickets.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	nextURL := ""
	if next != "" {
		q := c.QueryParams()
		q.Set("cursor", next)
		nextURL = "/tickets?" + q.Encode()
	}
	d.Data = struct {
		Items     []tickets.Ticket
		Next      string
		Statuses  []tickets.Status
		Q, Status string
		Assignee  string
	}{items, nextURL, tickets.Statuses, c.QueryParam("q"), c.QueryParam("status"), c.QueryParam("assignee")}
	return s.pages.Render(c, http.StatusOK, "tickets", d)
}

func (s *ticketsArea) pageNewTicket(c echo.Context) error {
	return s.pages.Render(c, http.StatusOK, "ticket_new", s.pages.Page(c, "tickets.new"))
}

func splitTags(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func (s *ticketsArea) pageCreateTicket(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	p := mustPrincipal(c)
	t, err := s.tickets.Create(c.Request().Context(), &p, tickets.NewTicket{Subject: f.Get("subject"), RequesterName: f.Get("requester_name"),
		RequesterEmail: f.Get("requester_email"), Body: f.Get("body"), Tags: splitTags(f.Get("tags")), Source: "agent"})
	if fields, ok := fieldErrors(err); ok {
		d := s.pages.Page(c, "tickets.new")
		d.Errors, d.Error = fields, translate(d.Lang, "form.fix")
		for _, k := range []string{"subject", "requester_name", "requester_email", "body", "tags"} {
			d.Form[k] = f.Get(k)
		}
		return s.pages.Render(c, http.StatusUnprocessableEntity, "ticket_new", d)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/tickets/%d", t.ID))
}

// ticketPage is everything the ticket page shows.
type ticketPage struct {
	Ticket      tickets.Ticket
	Messages    []tickets.Message
	Attachments []tickets.Attachment
	History     []tickets.Change
	Agents      []accounts.User
	Assignee    int64
	Tags        string
	Statuses    []tickets.Status
	Priorities  []tickets.Priority
	KBQuery     string
	KBHits      []kbLink
}

// kbLink is an article an agent may link in a reply.
type kbLink struct {
	kb.Hit
	Link string
}

func (s *ticketsArea) pageTicket(c echo.Context) error {
	return s.renderTicket(c, http.StatusOK, s.pages.Page(c, "nav.tickets"))
}

func (s *ticketsArea) renderTicket(c echo.Context, status int, d pageData) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	t, err := s.visibleTicket(c, id)
	if err != nil {
		return err
	}
	tp := ticketPage{Ticket: t, Tags: strings.Join(t.Tags, ", "), Statuses: tickets.Statuses, Priorities: tickets.Priorities}
	if tp.Messages, err = s.tickets.Messages(ctx, id, true); err != nil {
		return err
	}
	if tp.Attachments, err = s.attachments.List(ctx, id); err != nil {
		return err
	}
	if tp.History, err = s.tickets.History(ctx, id); err != nil {
		return err
	}
	users, err := s.users.ListUsers(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Active && u.Role.Can(accounts.TicketsWrite) {
			tp.Agents = append(tp.Agents, u)
		}
	}
	if t.AssigneeID != nil {
		tp.Assignee = *t.AssigneeID
	}
	if q := c.QueryParam("kbq"); q != "" && s.kb != nil {
		tp.KBQuery = q
		hits, err := s.kb.Search(ctx, q, true, 5)
		if err != nil {
			return err
		}
		for _, h := range hits {
			tp.KBHits = append(tp.KBHits, kbLink{Hit: h, Link: articleURL(s.baseURL, h.Article)})
		}
	}
	d.Title = fmt.Sprintf("#%d %s", t.ID, t.Subject)
	d.Data = tp
	return s.pages.Render(c, status, "ticket", d)
}

// ticketFormError re-renders the ticket page with field errors, or passes err on.
func (s *ticketsArea) ticketFormError(c echo.Context, err error, keep url.Values) error {
	fields, ok := fieldErrors(err)
	if !ok {
		return err
	}
	d := s.pages.Page(c, "nav.tickets")
	d.Errors, d.Error = fields, translate(d.Lang, "form.fix")
	for k := range keep {
		d.Form[k] = keep.Get(k)
	}
	return s.renderTicket(c, http.StatusUnprocessableEntity, d)
}

func (s *ticketsArea) pageTicketReply(c echo.Context) error {
	id, f, err := s.ticketForm(c)
	if err != nil {
		return err
	}
	if _, _, err := s.tickets.AddMessage(c.Request().Context(), mustPrincipal(c), id, tickets.Kind(f.Get("kind")), f.Get("body")); err != nil {
		return s.ticketFormError(c, err, url.Values{"body": {f.Get("body")}})
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/tickets/%d", id))
}

func (s *ticketsArea) pageTicketUpdate(c echo.Context) error {
	id, f, err := s.ticketForm(c)
	if err != nil {
		return err
	}
	var u tickets.Update
	if v := f.Get("status"); v != "" {
		st := tickets.Status(v)
		u.Status = &st
	}
	if v := f.Get("priority"); v != "" {
		pr := tickets.Priority(v)
		u.Priority = &pr
	}
	if f.Has("assignee") {
		var a *int64
		if v := f.Get("assignee"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return s.ticketFormError(c, instance.InvalidField("assignee", "no_such_user", "is not a user"), nil)
			}
			if err := s.checkAssignee(c, &n); err != nil {
				return s.ticketFormError(c, err, nil)
			}
			a = &n
		}
		u.AssigneeID = &a
	}
	if f.Has("tags") {
		tags := splitTags(f.Get("tags"))
		u.Tags = &tags
	}
	if _, err := s.tickets.Update(c.Request().Context(), mustPrincipal(c), id, u); err != nil {
		return s.ticketFormError(c, err, nil)
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/tickets/%d", id))
}

func (s *ticketsArea) pageTicketMerge(c echo.Context) error {
	id, f, err := s.ticketForm(c)
	if err != nil {
		return err
	}
	into, perr := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(f.Get("into")), "#"), 10, 64)
	if perr != nil {
		return s.ticketFormError(c, instance.InvalidField("into", "ticket_number", "is not a ticket number"), nil)
	}
	if _, err := s.visibleTicket(c, into); err != nil {
		return s.ticketFormError(c, instance.InvalidField("into", "no_such_ticket", "no such ticket"), nil)
	}
	if _, err := s.tickets.Merge(c.Request().Context(), mustPrincipal(c), id, into); err != nil {
		return s.ticketFormError(c, err, nil)
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/tickets/%d", into))
}

// ticketForm reads a ticket form's ticket (one the caller may see) and its fields.
func (s *ticketsArea) ticketForm(c echo.Context) (int64, url.Values, error) {
	id, err := s.ticketParam(c)
	if err != nil {
		return 0, nil, err
	}
	f, err := form(c)
	return id, f, err
}

// pageTicketUpload takes a file from the ticket page's form (the body was parsed, and
// its size bounded, by the CSRF check).
func (s *ticketsArea) pageTicketUpload(c echo.Context) error {
	id, err := s.ticketParam(c)
	if err != nil {
		return err
	}
	mf := c.Request().MultipartForm
	if mf == nil || len(mf.File["file"]) == 0 {
		return s.ticketFormError(c, instance.InvalidField("file", "no_file", "choose a file"), nil)
	}
	fh := mf.File["file"][0]
	file, err := fh.Open()
	if err != nil {
		return err
	}
	defer file.Close()
	if _, err := s.attachments.Attach(c.Request().Context(), mustPrincipal(c), id, fh.Filename, file); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/tickets/%d", id))
}
