package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/kb"
	"github.com/sproudstack/sproudchat/instance/internal/ratelimit"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
	"github.com/sproudstack/sproudchat/instance/internal/web/page"
	"github.com/sproudstack/sproudchat/platform/httpbody"
)

// ticketsService is what the tickets' pages, API and the contact form need of
// tickets.Service.
type ticketsService interface {
	List(ctx context.Context, f tickets.Filter) ([]tickets.Ticket, string, error)
	Get(ctx context.Context, id int64) (tickets.Ticket, error)
	Validate(in tickets.NewTicket) (tickets.NewTicket, error)
	Create(ctx context.Context, by *accounts.Principal, in tickets.NewTicket) (tickets.Ticket, error)
	Update(ctx context.Context, by accounts.Principal, id int64, u tickets.Update) (tickets.Ticket, error)
	AddMessage(ctx context.Context, by accounts.Principal, id int64, kind tickets.Kind, body string) (tickets.Message, tickets.Ticket, error)
	Messages(ctx context.Context, id int64, withNotes bool) ([]tickets.Message, error)
	Merge(ctx context.Context, by accounts.Principal, fromID, intoID int64) (tickets.Ticket, error)
	History(ctx context.Context, id int64) ([]tickets.Change, error)
}

// ticketFiles is what the tickets need of tickets.Attachments.
type ticketFiles interface {
	Attach(ctx context.Context, by accounts.Principal, id int64, filename string, r io.Reader) (tickets.Attachment, error)
	Find(ctx context.Context, id int64) (tickets.Attachment, error)
	Limits() tickets.Limits
	List(ctx context.Context, ticketID int64) ([]tickets.Attachment, error)
}

// userDirectory finds the instance's users (assignees, agents, recipients).
type userDirectory interface {
	FindUser(ctx context.Context, id int64) (accounts.User, error)
	ListUsers(ctx context.Context) ([]accounts.User, error)
}

// articleSearch finds help articles to suggest in a reply.
type articleSearch interface {
	Search(ctx context.Context, query string, onlyPublished bool, limit int) ([]kb.Hit, error)
}

// ticketsArea serves tickets (pages and API, with their files) and the public contact
// form, which opens one.
type ticketsArea struct {
	tickets     ticketsService
	attachments ticketFiles
	blobs       BlobOpener
	users       userDirectory
	kb          articleSearch
	confirm     Confirmer // nil sends no confirmation
	pages       *page.Renderer
	baseURL     *url.URL
	log         *slog.Logger
	// contactLimit allows each address 5 contact-form posts an hour.
	contactLimit *ratelimit.Limiter
}

type ticketJSON struct {
	ID              int64      `json:"id"`
	Subject         string     `json:"subject"`
	RequesterName   string     `json:"requester_name"`
	RequesterEmail  string     `json:"requester_email"`
	Status          string     `json:"status"`
	Priority        string     `json:"priority"`
	AssigneeID      *int64     `json:"assignee_id"`
	Tags            []string   `json:"tags"`
	Source          string     `json:"source"`
	MergedIntoID    *int64     `json:"merged_into_id,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	FirstResponseAt *time.Time `json:"first_response_at"`
	SolvedAt        *time.Time `json:"solved_at"`
	ClosedAt        *time.Time `json:"closed_at"`
}

func toTicketJSON(t tickets.Ticket) ticketJSON {
	return ticketJSON{ID: t.ID, Subject: t.Subject, RequesterName: t.RequesterName, RequesterEmail: t.RequesterEmail, Status: string(t.Status),
		Priority: string(t.Priority), AssigneeID: t.AssigneeID, Tags: t.Tags, Source: t.Source, MergedIntoID: t.MergedIntoID, CreatedAt: t.CreatedAt,
		UpdatedAt: t.UpdatedAt, FirstResponseAt: t.FirstResponseAt, SolvedAt: t.SolvedAt, ClosedAt: t.ClosedAt}
}

type messageJSON struct {
	ID           int64     `json:"id"`
	Kind         string    `json:"kind"`
	AuthorUserID *int64    `json:"author_user_id"`
	AuthorName   string    `json:"author_name"`
	AuthorEmail  string    `json:"author_email"`
	Body         string    `json:"body"`
	CreatedAt    time.Time `json:"created_at"`
}

func toMessageJSON(m tickets.Message) messageJSON {
	return messageJSON{ID: m.ID, Kind: string(m.Kind), AuthorUserID: m.AuthorUserID, AuthorName: m.AuthorName, AuthorEmail: m.AuthorEmail,
		Body: m.Body, CreatedAt: m.CreatedAt}
}

// ticketFilter reads the list query: status, assignee (id, "me" or "none"), tag,
// requester, q, sort, cursor, limit.
func ticketFilter(c echo.Context) (tickets.Filter, error) {
	f := tickets.Filter{Status: tickets.Status(c.QueryParam("status")), Tag: c.QueryParam("tag"), Requester: c.QueryParam("requester"),
		Text: c.QueryParam("q"), Sort: c.QueryParam("sort"), After: c.QueryParam("cursor"), Limit: 50}
	p := instance.Fields{}
	if f.Status != "" && !contains(tickets.Statuses, f.Status) {
		p.Add("status", "one_of", "must be %s", "new, open, pending, solved or closed")
	}
	switch a := c.QueryParam("assignee"); a {
	case "":
	case "me":
		f.AssigneeID = mustPrincipal(c).User.ID
	case "none":
		f.AssigneeID = -1
	default:
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id < 1 {
			p.Add("assignee", "assignee", "must be a user id, me or none")
		}
		f.AssigneeID = id
	}
	if f.Sort != "" && f.Sort != "updated" && f.Sort != "created" && f.Sort != "priority" {
		p.Add("sort", "one_of", "must be %s", "updated, created or priority")
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			p.Add("limit", "number_between", "must be a number from %d to %d", 1, 200)
		}
		f.Limit = n
	}
	if len(f.Text) > 200 {
		p.Add("q", "too_long", "is longer than %d characters", 200)
	}
	if u := mustPrincipal(c).User; u.TicketScope == accounts.ScopeAssigned {
		f.AssigneeID = u.ID // a restricted user lists only their own tickets
	}
	return f, p.Err()
}

// visibleTicket returns ticket id if the caller may see it. A ticket outside a
// restricted user's scope is "not found", exactly like a missing one.
func (s *ticketsArea) visibleTicket(c echo.Context, id int64) (tickets.Ticket, error) {
	t, err := s.tickets.Get(c.Request().Context(), id)
	if err != nil {
		return tickets.Ticket{}, err
	}
	if !mustPrincipal(c).User.SeesTicket(t.AssigneeID) {
		return tickets.Ticket{}, instance.ErrNotFound
	}
	return t, nil
}

// ticketParam reads the path's ticket id and checks the caller may see it.
func (s *ticketsArea) ticketParam(c echo.Context) (int64, error) {
	id, err := pathID(c)
	if err != nil {
		return 0, err
	}
	_, err = s.visibleTicket(c, id)
	return id, err
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (s *ticketsArea) apiListTickets(c echo.Context) error {
	f, err := ticketFilter(c)
	if err != nil {
		return err
	}
	items, next, err := s.tickets.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := listJSON[ticketJSON]{Items: make([]ticketJSON, len(items)), NextCursor: next}
	for i, t := range items {
		out.Items[i] = toTicketJSON(t)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *ticketsArea) apiCreateTicket(c echo.Context) error {
	var in struct {
		Subject        string   `json:"subject"`
		RequesterName  string   `json:"requester_name"`
		RequesterEmail string   `json:"requester_email"`
		Body           string   `json:"body"`
		Priority       string   `json:"priority"`
		Tags           []string `json:"tags"`
		AssigneeID     *int64   `json:"assignee_id"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	if err := s.checkAssignee(c, in.AssigneeID); err != nil {
		return err
	}
	p := mustPrincipal(c)
	t, err := s.tickets.Create(c.Request().Context(), &p, tickets.NewTicket{Subject: in.Subject, RequesterName: in.RequesterName,
		RequesterEmail: in.RequesterEmail, Body: in.Body, Priority: tickets.Priority(in.Priority), Tags: in.Tags, AssigneeID: in.AssigneeID, Source: "agent"})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, fmt.Sprintf("/api/v1/tickets/%d", t.ID))
	return c.JSON(http.StatusCreated, toTicketJSON(t))
}

// checkAssignee refuses an assignee who is not an active user able to work tickets.
func (s *ticketsArea) checkAssignee(c echo.Context, id *int64) error {
	if id == nil {
		return nil
	}
	u, err := s.users.FindUser(c.Request().Context(), *id)
	if err != nil || !u.Active || !u.Role.Can(accounts.TicketsWrite) {
		return instance.InvalidField("assignee_id", "not_ticket_agent", "must be an active user who works on tickets")
	}
	return nil
}

func (s *ticketsArea) apiGetTicket(c echo.Context) error {
	id, err := s.ticketParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	t, err := s.tickets.Get(ctx, id)
	if err != nil {
		return err
	}
	ms, err := s.tickets.Messages(ctx, id, true)
	if err != nil {
		return err
	}
	atts, err := s.attachments.List(ctx, id)
	if err != nil {
		return err
	}
	out := struct {
		ticketJSON
		Messages    []messageJSON    `json:"messages"`
		Attachments []attachmentJSON `json:"attachments"`
	}{ticketJSON: toTicketJSON(t), Messages: make([]messageJSON, len(ms)), Attachments: make([]attachmentJSON, len(atts))}
	for i, m := range ms {
		out.Messages[i] = toMessageJSON(m)
	}
	for i, a := range atts {
		out.Attachments[i] = toAttachmentJSON(a)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *ticketsArea) apiUpdateTicket(c echo.Context) error {
	id, err := s.ticketParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Subject    *string   `json:"subject"`
		Status     *string   `json:"status"`
		Priority   *string   `json:"priority"`
		AssigneeID *int64    `json:"assignee_id"`
		Unassign   bool      `json:"unassign"`
		Tags       *[]string `json:"tags"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	u := tickets.Update{Subject: in.Subject, Tags: in.Tags}
	if in.Status != nil {
		st := tickets.Status(*in.Status)
		u.Status = &st
	}
	if in.Priority != nil {
		pr := tickets.Priority(*in.Priority)
		u.Priority = &pr
	}
	if in.AssigneeID != nil {
		if err := s.checkAssignee(c, in.AssigneeID); err != nil {
			return err
		}
		u.AssigneeID = &in.AssigneeID
	} else if in.Unassign {
		var none *int64
		u.AssigneeID = &none
	}
	t, err := s.tickets.Update(c.Request().Context(), mustPrincipal(c), id, u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTicketJSON(t))
}

func (s *ticketsArea) apiAddTicketMessage(c echo.Context) error {
	id, err := s.ticketParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Kind string `json:"kind"`
		Body string `json:"body"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	m, _, err := s.tickets.AddMessage(c.Request().Context(), mustPrincipal(c), id, tickets.Kind(in.Kind), in.Body)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toMessageJSON(m))
}

func (s *ticketsArea) apiMergeTicket(c echo.Context) error {
	id, err := s.ticketParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Into int64 `json:"into"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	if _, err := s.visibleTicket(c, in.Into); err != nil {
		return instance.InvalidField("into", "no_such_ticket", "no such ticket")
	}
	t, err := s.tickets.Merge(c.Request().Context(), mustPrincipal(c), id, in.Into)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTicketJSON(t))
}

type changeJSON struct {
	At          time.Time `json:"at"`
	ActorUserID *int64    `json:"actor_user_id"`
	ActorName   string    `json:"actor_name"`
	Field       string    `json:"field"`
	From        string    `json:"from"`
	To          string    `json:"to"`
}

func (s *ticketsArea) apiTicketHistory(c echo.Context) error {
	id, err := s.ticketParam(c)
	if err != nil {
		return err
	}
	h, err := s.tickets.History(c.Request().Context(), id)
	if err != nil {
		return err
	}
	out := listJSON[changeJSON]{Items: make([]changeJSON, len(h))}
	for i, ch := range h {
		out.Items[i] = changeJSON{At: ch.At, ActorUserID: ch.ActorUserID, ActorName: ch.ActorName, Field: ch.Field, From: ch.From, To: ch.To}
	}
	return c.JSON(http.StatusOK, out)
}
