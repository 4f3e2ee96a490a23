package tickets

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

// Update are the fields an agent may change; nil leaves a field as it is.
type Update struct {
	Subject    *string
	Status     *Status
	Priority   *Priority
	AssigneeID **int64 // set to a nil *int64 to unassign
	Tags       *[]string
}

// Update changes a ticket and writes a history row per changed field. Returns
// instance.ErrNotFound, an Invalid *instance.Error, or instance.ErrConflict for a
// ticket merged into another.
func (s *Service) Update(ctx context.Context, by accounts.Principal, id int64, u Update) (Ticket, error) {
	t, err := s.store.FindTicket(ctx, id)
	if err != nil {
		return Ticket{}, err
	}
	if t.MergedIntoID != nil {
		return Ticket{}, fmt.Errorf("%w: ticket %d was merged into %d", instance.ErrConflict, t.ID, *t.MergedIntoID)
	}
	p := instance.Fields{}
	now := s.clock.Now()
	actorID, actorName := actorOf(&by)
	var h []Change
	record := func(field, from, to string) {
		if from != to {
			h = append(h, Change{TicketID: t.ID, At: now, ActorUserID: actorID, ActorName: actorName, Field: field, From: from, To: to})
		}
	}
	if u.Subject != nil {
		checkText(p, "subject", *u.Subject, 200)
		record("subject", t.Subject, strings.TrimSpace(*u.Subject))
		t.Subject = strings.TrimSpace(*u.Subject)
	}
	if u.Priority != nil {
		if !slices.Contains(Priorities, *u.Priority) {
			p.Add("priority", "one_of", "must be %s", "low, normal, high or urgent")
		}
		record("priority", string(t.Priority), string(*u.Priority))
		t.Priority = *u.Priority
	}
	if u.AssigneeID != nil {
		record("assignee", idString(t.AssigneeID), idString(*u.AssigneeID))
		t.AssigneeID = *u.AssigneeID
	}
	if u.Tags != nil {
		tags := normalizeTags(p, *u.Tags)
		record("tags", strings.Join(t.Tags, ","), strings.Join(tags, ","))
		t.Tags = tags
	}
	if u.Status != nil {
		if !slices.Contains(Statuses, *u.Status) {
			p.Add("status", "one_of", "must be %s", "new, open, pending, solved or closed")
		} else {
			record("status", string(t.Status), string(*u.Status))
			setStatus(&t, *u.Status, s.clock.Now())
		}
	}
	if err := p.Err(); err != nil {
		return Ticket{}, err
	}
	if len(h) == 0 {
		return t, nil
	}
	t.UpdatedAt = now
	if err := s.store.UpdateTicket(ctx, t, h); err != nil {
		return Ticket{}, fmt.Errorf("update ticket %d: %w", id, err)
	}
	return t, nil
}

// setStatus moves the status and keeps solved_at/closed_at true to it; reopening
// clears them so reports count the final solution.
func setStatus(t *Ticket, st Status, now time.Time) {
	t.Status = st
	switch st {
	case Solved:
		t.SolvedAt, t.ClosedAt = &now, nil
	case Closed:
		if t.SolvedAt == nil {
			t.SolvedAt = &now
		}
		t.ClosedAt = &now
	default:
		t.SolvedAt, t.ClosedAt = nil, nil
	}
}

func idString(id *int64) string {
	if id == nil {
		return ""
	}
	return strconv.FormatInt(*id, 10)
}

// AddMessage adds an agent's public reply or internal note. The first public reply sets
// first_response_at; a reply to a new ticket opens it. Returns instance.ErrNotFound or a
// instance.Error with Fields.
func (s *Service) AddMessage(ctx context.Context, by accounts.Principal, id int64, kind Kind, body string) (Message, Ticket, error) {
	t, err := s.store.FindTicket(ctx, id)
	if err != nil {
		return Message{}, Ticket{}, err
	}
	p := instance.Fields{}
	if kind != Reply && kind != Note {
		p.Add("kind", "one_of", "must be %s", "reply or note")
	}
	checkText(p, "body", body, 100_000)
	if err := p.Err(); err != nil {
		return Message{}, Ticket{}, err
	}
	if t.MergedIntoID != nil {
		return Message{}, Ticket{}, fmt.Errorf("%w: ticket %d was merged into %d", instance.ErrConflict, t.ID, *t.MergedIntoID)
	}
	now := s.clock.Now()
	actorID, actorName := actorOf(&by)
	m := Message{TicketID: t.ID, Kind: kind, AuthorUserID: actorID, AuthorName: actorName, AuthorEmail: by.User.Email, Body: body, CreatedAt: now}
	var h []Change
	if kind == Reply {
		if t.FirstResponseAt == nil {
			t.FirstResponseAt = &now
		}
		if t.Status == New {
			h = append(h, Change{TicketID: t.ID, At: now, ActorUserID: actorID, ActorName: actorName, Field: "status", From: string(New), To: string(Open)})
			setStatus(&t, Open, now)
		}
	}
	t.UpdatedAt = now
	if err := s.store.AddMessage(ctx, &m, t, h); err != nil {
		return Message{}, Ticket{}, fmt.Errorf("add message to ticket %d: %w", id, err)
	}
	if kind == Reply && s.notify != nil {
		if err := s.notify.ReplySent(ctx, t, m); err != nil {
			s.log.ErrorContext(ctx, "notify reply", "ticket_id", t.ID, "error", err.Error())
		}
	}
	return m, t, nil
}

// Merge folds ticket from into ticket into: the conversation, attachments and tags move,
// from is closed as merged, and both histories say so. Returns instance.ErrNotFound, or
// instance.ErrInvalid/ErrConflict for a ticket merged into itself or already merged.
func (s *Service) Merge(ctx context.Context, by accounts.Principal, fromID, intoID int64) (Ticket, error) {
	if fromID == intoID {
		return Ticket{}, instance.InvalidField("into", "merge_self", "a ticket cannot be merged into itself")
	}
	from, err := s.store.FindTicket(ctx, fromID)
	if err != nil {
		return Ticket{}, err
	}
	into, err := s.store.FindTicket(ctx, intoID)
	if err != nil {
		return Ticket{}, instance.InvalidField("into", "no_such_ticket", "no such ticket")
	}
	if from.MergedIntoID != nil || into.MergedIntoID != nil {
		return Ticket{}, fmt.Errorf("%w: merged tickets cannot be merged again", instance.ErrConflict)
	}
	now := s.clock.Now()
	actorID, actorName := actorOf(&by)
	h := []Change{
		{TicketID: from.ID, At: now, ActorUserID: actorID, ActorName: actorName, Field: "merged_into", To: strconv.FormatInt(into.ID, 10)},
		{TicketID: from.ID, At: now, ActorUserID: actorID, ActorName: actorName, Field: "status", From: string(from.Status), To: string(Closed)},
		{TicketID: into.ID, At: now, ActorUserID: actorID, ActorName: actorName, Field: "merged_from", To: strconv.FormatInt(from.ID, 10)},
	}
	from.MergedIntoID, from.UpdatedAt = &into.ID, now
	setStatus(&from, Closed, now)
	into.UpdatedAt = now
	for _, tag := range from.Tags {
		if !slices.Contains(into.Tags, tag) {
			into.Tags = append(into.Tags, tag)
		}
	}
	slices.Sort(into.Tags)
	if into.FirstResponseAt == nil || from.FirstResponseAt != nil && from.FirstResponseAt.Before(*into.FirstResponseAt) {
		into.FirstResponseAt = from.FirstResponseAt
	}
	if err := s.store.Merge(ctx, from, into, h); err != nil {
		return Ticket{}, fmt.Errorf("merge ticket %d into %d: %w", fromID, intoID, err)
	}
	return into, nil
}
