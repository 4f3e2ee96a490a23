package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/sproudstack/sproudchat/instance/internal/tickets"
)

// Tickets implements tickets.Store.
type Tickets struct{ db *DB }

// NewTickets returns the tickets store of db.
func NewTickets(db *DB) *Tickets { return &Tickets{db: db} }

var _ tickets.Store = (*Tickets)(nil)

type ticketRow struct {
	ID              int64 `gorm:"primaryKey"`
	Subject         string
	RequesterName   string
	RequesterEmail  string
	Status          string
	Priority        string
	AssigneeID      *int64
	Source          string
	MergedIntoID    *int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
	FirstResponseAt *time.Time
	SolvedAt        *time.Time
	ClosedAt        *time.Time
}

func (ticketRow) TableName() string { return "tickets" }

func (r ticketRow) domain(tags []string) tickets.Ticket {
	if tags == nil {
		tags = []string{}
	}
	return tickets.Ticket{ID: r.ID, Subject: r.Subject, RequesterName: r.RequesterName, RequesterEmail: r.RequesterEmail,
		Status: tickets.Status(r.Status), Priority: tickets.Priority(r.Priority), AssigneeID: r.AssigneeID, Tags: tags, Source: r.Source,
		MergedIntoID: r.MergedIntoID, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), FirstResponseAt: utcPtr(r.FirstResponseAt),
		SolvedAt: utcPtr(r.SolvedAt), ClosedAt: utcPtr(r.ClosedAt)}
}

func ticketFields(t tickets.Ticket) map[string]any {
	return map[string]any{"subject": t.Subject, "status": string(t.Status), "priority": string(t.Priority), "assignee_id": t.AssigneeID,
		"merged_into_id": t.MergedIntoID, "updated_at": t.UpdatedAt, "first_response_at": t.FirstResponseAt, "solved_at": t.SolvedAt,
		"closed_at": t.ClosedAt}
}

type tagRow struct {
	TicketID int64  `gorm:"primaryKey;autoIncrement:false"`
	Tag      string `gorm:"primaryKey"`
}

func (tagRow) TableName() string { return "ticket_tags" }

type messageRow struct {
	ID           int64 `gorm:"primaryKey"`
	TicketID     int64
	Kind         string
	AuthorUserID *int64
	AuthorName   string
	AuthorEmail  string
	Body         string
	CreatedAt    time.Time
}

func (messageRow) TableName() string { return "ticket_messages" }

type historyRow struct {
	ID          int64 `gorm:"primaryKey"`
	TicketID    int64
	At          time.Time
	ActorUserID *int64
	ActorName   string
	Field       string
	FromValue   string
	ToValue     string
}

func (historyRow) TableName() string { return "ticket_history" }

func addHistory(tx *gorm.DB, id int64, h []tickets.Change) error {
	for _, c := range h {
		if c.TicketID == 0 {
			c.TicketID = id
		}
		row := historyRow{TicketID: c.TicketID, At: c.At, ActorUserID: c.ActorUserID, ActorName: c.ActorName, Field: c.Field, FromValue: c.From, ToValue: c.To}
		if err := tx.Create(&row).Error; err != nil {
			return fmt.Errorf("insert history: %w", err)
		}
	}
	return nil
}

func setTags(tx *gorm.DB, id int64, tags []string) error {
	if err := tx.Where("ticket_id = ?", id).Delete(&tagRow{}).Error; err != nil {
		return err
	}
	for _, t := range tags {
		if err := tx.Create(&tagRow{TicketID: id, Tag: t}).Error; err != nil {
			return err
		}
	}
	return nil
}

func (s *Tickets) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return translate(s.db.gorm.WithContext(ctx).Transaction(fn))
}

// CreateTicket inserts t with its first message and history, setting IDs.
func (s *Tickets) CreateTicket(ctx context.Context, t *tickets.Ticket, first tickets.Message, h []tickets.Change) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		row := ticketRow{Subject: t.Subject, RequesterName: t.RequesterName, RequesterEmail: t.RequesterEmail, Status: string(t.Status),
			Priority: string(t.Priority), AssigneeID: t.AssigneeID, Source: t.Source, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		t.ID = row.ID
		if err := setTags(tx, t.ID, t.Tags); err != nil {
			return err
		}
		m := messageRow{TicketID: t.ID, Kind: string(first.Kind), AuthorUserID: first.AuthorUserID, AuthorName: first.AuthorName,
			AuthorEmail: first.AuthorEmail, Body: first.Body, CreatedAt: first.CreatedAt}
		if err := tx.Create(&m).Error; err != nil {
			return err
		}
		return addHistory(tx, t.ID, h)
	})
}

func (s *Tickets) tags(ctx context.Context, ids ...int64) (map[int64][]string, error) {
	var rows []tagRow
	if err := s.db.gorm.WithContext(ctx).Where("ticket_id IN ?", ids).Order("tag").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := map[int64][]string{}
	for _, r := range rows {
		out[r.TicketID] = append(out[r.TicketID], r.Tag)
	}
	return out, nil
}

// FindTicket returns instance.ErrNotFound for an unknown id.
func (s *Tickets) FindTicket(ctx context.Context, id int64) (tickets.Ticket, error) {
	var r ticketRow
	if err := s.db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return tickets.Ticket{}, translate(err)
	}
	tags, err := s.tags(ctx, id)
	if err != nil {
		return tickets.Ticket{}, err
	}
	return r.domain(tags[id]), nil
}

// UpdateTicket saves t with its history rows.
func (s *Tickets) UpdateTicket(ctx context.Context, t tickets.Ticket, h []tickets.Change) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Model(&ticketRow{}).Where("id = ?", t.ID).Updates(ticketFields(t)).Error; err != nil {
			return err
		}
		if err := setTags(tx, t.ID, t.Tags); err != nil {
			return err
		}
		return addHistory(tx, t.ID, h)
	})
}

// AddMessage inserts m (setting its ID) and saves t and its history.
func (s *Tickets) AddMessage(ctx context.Context, m *tickets.Message, t tickets.Ticket, h []tickets.Change) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		row := messageRow{TicketID: m.TicketID, Kind: string(m.Kind), AuthorUserID: m.AuthorUserID, AuthorName: m.AuthorName,
			AuthorEmail: m.AuthorEmail, Body: m.Body, CreatedAt: m.CreatedAt}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		m.ID = row.ID
		if err := tx.Model(&ticketRow{}).Where("id = ?", t.ID).Updates(ticketFields(t)).Error; err != nil {
			return err
		}
		return addHistory(tx, t.ID, h)
	})
}

// Merge moves from's conversation, attachments and tags into into.
func (s *Tickets) Merge(ctx context.Context, from, into tickets.Ticket, h []tickets.Change) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Model(&messageRow{}).Where("ticket_id = ?", from.ID).Update("ticket_id", into.ID).Error; err != nil {
			return err
		}
		if err := tx.Table("attachments").Where("ticket_id = ?", from.ID).Update("ticket_id", into.ID).Error; err != nil {
			return err
		}
		for _, t := range []tickets.Ticket{from, into} {
			if err := tx.Model(&ticketRow{}).Where("id = ?", t.ID).Updates(ticketFields(t)).Error; err != nil {
				return err
			}
		}
		if err := setTags(tx, into.ID, into.Tags); err != nil {
			return err
		}
		return addHistory(tx, 0, h)
	})
}

// sortKeys are the orders List offers: each a rank expression and its direction.
var sortKeys = map[string]struct{ expr, dir string }{
	"updated":  {"updated_at", "DESC"},
	"created":  {"created_at", "DESC"},
	"priority": {"CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END", "ASC"},
}

// ListTickets returns a page in the filter's order with a keyset cursor ("<key>|<id>").
func (s *Tickets) ListTickets(ctx context.Context, f tickets.Filter) ([]tickets.Ticket, string, error) {
	key, ok := sortKeys[f.Sort]
	if !ok {
		key = sortKeys["updated"]
	}
	q := s.db.gorm.WithContext(ctx).Model(&ticketRow{})
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	switch {
	case f.AssigneeID > 0:
		q = q.Where("assignee_id = ?", f.AssigneeID)
	case f.AssigneeID < 0:
		q = q.Where("assignee_id IS NULL")
	}
	if f.Tag != "" {
		// EXISTS lets the database walk the list's order and stop at the page size.
		q = q.Where("EXISTS (SELECT 1 FROM ticket_tags tt WHERE tt.ticket_id = tickets.id AND tt.tag = ?)", strings.ToLower(f.Tag))
	}
	if f.Requester != "" {
		q = q.Where("requester_email = ?", strings.ToLower(f.Requester))
	}
	if f.Text != "" {
		q = s.textFilter(q, f.Text)
	}
	if f.After != "" {
		k, id, err := parseCursor(f.After)
		if err != nil {
			return nil, "", err
		}
		cmp := "<"
		if key.dir == "ASC" {
			cmp = ">"
		}
		q = q.Where(fmt.Sprintf("(%s %s ? OR (%s = ? AND id < ?))", key.expr, cmp, key.expr), k, k, id)
	}
	var rows []ticketRow
	if err := q.Order(key.expr + " " + key.dir).Order("id DESC").Limit(f.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		next = cursorOf(f.Sort, rows[len(rows)-1])
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	tags, err := s.tags(ctx, ids...)
	if err != nil {
		return nil, "", err
	}
	out := make([]tickets.Ticket, len(rows))
	for i, r := range rows {
		out[i] = r.domain(tags[r.ID])
	}
	return out, next, nil
}

// cursorOf encodes the last row's sort key and id; times go as RFC 3339 with
// nanoseconds.
func cursorOf(sort string, r ticketRow) string {
	var k string
	switch sort {
	case "created":
		k = r.CreatedAt.UTC().Format(time.RFC3339Nano)
	case "priority":
		k = strconv.Itoa(map[string]int{"urgent": 0, "high": 1, "normal": 2, "low": 3}[r.Priority])
	default:
		k = r.UpdatedAt.UTC().Format(time.RFC3339Nano)
	}
	return k + "|" + strconv.FormatInt(r.ID, 10)
}

func parseCursor(c string) (any, int64, error) {
	k, idStr, ok := strings.Cut(c, "|")
	id, err := strconv.ParseInt(idStr, 10, 64)
	if !ok || err != nil {
		return nil, 0, fmt.Errorf("%w: cursor %q", errBadCursor, c)
	}
	if t, err := time.Parse(time.RFC3339Nano, k); err == nil {
		return t, id, nil
	}
	if n, err := strconv.ParseInt(k, 10, 64); err == nil {
		return n, id, nil
	}
	return nil, 0, fmt.Errorf("%w: cursor %q", errBadCursor, c)
}

// Messages returns a ticket's conversation in order.
func (s *Tickets) Messages(ctx context.Context, id int64) ([]tickets.Message, error) {
	var rows []messageRow
	if err := s.db.gorm.WithContext(ctx).Where("ticket_id = ?", id).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]tickets.Message, len(rows))
	for i, r := range rows {
		out[i] = tickets.Message{ID: r.ID, TicketID: r.TicketID, Kind: tickets.Kind(r.Kind), AuthorUserID: r.AuthorUserID, AuthorName: r.AuthorName,
			AuthorEmail: r.AuthorEmail, Body: r.Body, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// History returns a ticket's changes in order.
func (s *Tickets) History(ctx context.Context, id int64) ([]tickets.Change, error) {
	var rows []historyRow
	if err := s.db.gorm.WithContext(ctx).Where("ticket_id = ?", id).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]tickets.Change, len(rows))
	for i, r := range rows {
		out[i] = tickets.Change{ID: r.ID, TicketID: r.TicketID, At: r.At.UTC(), ActorUserID: r.ActorUserID, ActorName: r.ActorName,
			Field: r.Field, From: r.FromValue, To: r.ToValue}
	}
	return out, nil
}

type attachmentRow struct {
	ID          int64 `gorm:"primaryKey"`
	TicketID    int64
	MessageID   *int64
	Filename    string
	ContentType string
	Size        int64
	SHA256      string `gorm:"column:sha256"`
	UploadedBy  *int64
	CreatedAt   time.Time
}

func (attachmentRow) TableName() string { return "attachments" }

func (r attachmentRow) domain() tickets.Attachment {
	return tickets.Attachment{ID: r.ID, TicketID: r.TicketID, MessageID: r.MessageID, Filename: r.Filename, ContentType: r.ContentType,
		Size: r.Size, SHA256: r.SHA256, UploadedBy: r.UploadedBy, CreatedAt: r.CreatedAt.UTC()}
}

var _ tickets.AttachmentStore = (*Tickets)(nil)

// AddAttachment inserts a and its history row, setting a's ID.
func (s *Tickets) AddAttachment(ctx context.Context, a *tickets.Attachment, h []tickets.Change) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		row := attachmentRow{TicketID: a.TicketID, MessageID: a.MessageID, Filename: a.Filename, ContentType: a.ContentType, Size: a.Size,
			SHA256: a.SHA256, UploadedBy: a.UploadedBy, CreatedAt: a.CreatedAt}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		a.ID = row.ID
		if err := tx.Model(&ticketRow{}).Where("id = ?", a.TicketID).Update("updated_at", a.CreatedAt).Error; err != nil {
			return err
		}
		return addHistory(tx, a.TicketID, h)
	})
}

// FindAttachment returns instance.ErrNotFound for an unknown id.
func (s *Tickets) FindAttachment(ctx context.Context, id int64) (tickets.Attachment, error) {
	var r attachmentRow
	if err := s.db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return tickets.Attachment{}, translate(err)
	}
	return r.domain(), nil
}

// Attachments returns a ticket's files in order.
func (s *Tickets) Attachments(ctx context.Context, ticketID int64) ([]tickets.Attachment, error) {
	var rows []attachmentRow
	if err := s.db.gorm.WithContext(ctx).Where("ticket_id = ?", ticketID).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]tickets.Attachment, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// AttachmentBytes sums the size of each distinct body once, the tickets' and the
// chat's files together: they share the blob store and its quota.
func (s *Tickets) AttachmentBytes(ctx context.Context) (int64, error) {
	var n *int64
	err := s.db.gorm.WithContext(ctx).Raw(`SELECT SUM(size) FROM (SELECT sha256, MAX(size) AS size FROM
		(SELECT sha256, size FROM attachments UNION ALL SELECT sha256, size FROM chat_attachments) AS files GROUP BY sha256) AS blobs`).Scan(&n).Error
	if err != nil || n == nil {
		return 0, err
	}
	return *n, nil
}

// textFilter narrows q to tickets whose subject or messages contain text. Both
// databases answer from trigram indexes (pg_trgm; SQLite FTS5 trigram tables). A pattern
// those cannot answer exactly on SQLite (under three characters, or with a literal % or
// _, which FTS5's LIKE cannot escape) is matched by scanning instead.
func (s *Tickets) textFilter(q *gorm.DB, text string) *gorm.DB {
	lower := strings.ToLower(text)
	escaped := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(lower) + "%"
	if s.db.dialect == SQLite && utf8.RuneCountInString(lower) >= 3 && !strings.ContainsAny(lower, `%_\`) {
		like := "%" + lower + "%"
		return q.Where(`(id IN (SELECT rowid FROM ticket_subject_fts WHERE subject LIKE ?)
			OR id IN (SELECT ticket_id FROM ticket_messages WHERE id IN (SELECT rowid FROM ticket_body_fts WHERE body LIKE ?)))`, like, like)
	}
	if s.db.dialect == Postgres {
		// Find the matches through the trigram indexes first, then order only those: with
		// the text inside the ordered query the planner walks the newest-first index
		// hoping to meet matches early, which scans everything when they are rare. Past
		// 5,000 matches they are common, and that walk is the better plan.
		var ids []int64
		err := s.db.gorm.WithContext(q.Statement.Context).Raw(`SELECT id FROM tickets WHERE LOWER(subject) LIKE ? ESCAPE '\'
			UNION SELECT ticket_id FROM ticket_messages WHERE LOWER(body) LIKE ? ESCAPE '\' LIMIT 5001`, escaped, escaped).Scan(&ids).Error
		if err == nil && len(ids) <= 5000 {
			if len(ids) == 0 {
				return q.Where("1 = 0")
			}
			return q.Where("id IN ?", ids)
		}
	}
	return q.Where(`(LOWER(subject) LIKE ? ESCAPE '\' OR id IN (SELECT ticket_id FROM ticket_messages WHERE LOWER(body) LIKE ? ESCAPE '\'))`, escaped, escaped)
}
