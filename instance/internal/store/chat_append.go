package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
)

// Append gives m the conversation's next sequence number and stores it. A client id
// the conversation has seen before returns the stored message instead (dup). Returns
// instance.ErrNotFound for an unknown conversation.
//
// Messages arriving together are stored together: group commit. The first sender to
// find no commit running commits every message waiting (up to maxBatch) in one
// transaction, and hands on to the next batch; the others wait for their turn. Under
// load this turns one transaction (and WAL write) per message into one per batch,
// without delaying a lone message at all. Nothing is acknowledged before its batch is
// committed.
func (s *Chat) Append(ctx context.Context, m *chat.Message) (bool, error) {
	return s.appends.append(ctx, m)
}

const maxBatch = 128

type appendReq struct {
	m    *chat.Message
	orig chat.Message // to start again from, should the batch fail
	dup  bool
	err  error
	done chan struct{}
}

type appendQueue struct {
	db      *DB
	mu      sync.Mutex
	waiting []*appendReq
	busy    bool
}

func (q *appendQueue) append(ctx context.Context, m *chat.Message) (bool, error) {
	r := &appendReq{m: m, orig: *m, done: make(chan struct{})}
	q.mu.Lock()
	q.waiting = append(q.waiting, r)
	lead := !q.busy
	q.busy = true
	q.mu.Unlock()
	if lead {
		q.lead()
	}
	select {
	case <-r.done:
		return r.dup, r.err
	case <-ctx.Done():
		// The message may still be stored; the sender resends with its client id.
		return false, ctx.Err()
	}
}

// lead commits the waiting messages, then passes the lead to a new goroutine if more
// arrived meanwhile, so the leader's own sender is answered at once. The database owns
// that goroutine: closing it waits for the commit.
func (q *appendQueue) lead() {
	q.mu.Lock()
	n := min(len(q.waiting), maxBatch)
	batch := q.waiting[:n:n]
	q.waiting = q.waiting[n:]
	q.mu.Unlock()
	q.commit(batch)
	q.mu.Lock()
	if len(q.waiting) == 0 {
		q.busy = false
	} else {
		q.db.writes.Go(q.lead)
	}
	q.mu.Unlock()
}

// commit stores a batch in one transaction. Should it fail as a whole, each message is
// tried again alone, so one bad message cannot fail the others.
func (q *appendQueue) commit(batch []*appendReq) {
	// A batch serves many senders: one leaving does not cancel the others' writes.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := q.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, r := range batch {
			r.dup, r.err = appendIn(tx, r.m)
			if r.err != nil && !errors.Is(r.err, instance.ErrNotFound) {
				return r.err
			}
		}
		return nil
	})
	if err != nil && len(batch) > 1 {
		for _, r := range batch {
			*r.m = r.orig
			r.dup, r.err = false, nil
			r.err = q.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				var err error
				r.dup, err = appendIn(tx, r.m)
				return err
			})
		}
	} else if err != nil {
		batch[0].err = err
	}
	for _, r := range batch {
		if r.err == nil && r.dup && r.m.Attachment == nil {
			r.err = q.attachmentOf(ctx, r.m)
		}
		close(r.done)
	}
}

// attachmentOf fills in the file of a resent message found stored.
func (q *appendQueue) attachmentOf(ctx context.Context, m *chat.Message) error {
	var id *int64
	if err := q.db.gorm.WithContext(ctx).Raw("SELECT attachment_id FROM chat_messages WHERE id = ?", m.ID).Scan(&id).Error; err != nil || id == nil {
		return err
	}
	var a chatAttachmentRow
	if err := q.db.gorm.WithContext(ctx).Where("id = ?", *id).Take(&a).Error; err != nil {
		return translate(err)
	}
	m.Attachment = a.domain()
	return nil
}

// appendIn stores one message inside tx. A visitor writing into a closed conversation
// opens it again; an agent's first answer is the conversation's first response.
func appendIn(tx *gorm.DB, m *chat.Message) (dup bool, err error) {
	if m.ClientID != "" {
		var rows []chatMessageRow
		if err := tx.Where("conversation_id = ? AND client_id = ?", m.ConversationID, m.ClientID).Limit(1).Find(&rows).Error; err != nil {
			return false, err
		}
		if len(rows) == 1 {
			*m = rows[0].domain()
			return true, nil
		}
	}
	author := string(m.Author)
	responder := author
	if m.Internal {
		responder = "" // a note among the team answers nobody
	}
	var seqs []int64
	if err := tx.Raw(`UPDATE chat_conversations SET last_seq = last_seq + 1, updated_at = ?,
		first_response_at = CASE WHEN ? = 'agent' AND first_response_at IS NULL THEN ? ELSE first_response_at END,
		status = CASE WHEN ? = 'visitor' THEN 'open' ELSE status END,
		closed_at = CASE WHEN ? = 'visitor' THEN NULL ELSE closed_at END
		WHERE id = ? RETURNING last_seq`, m.CreatedAt, responder, m.CreatedAt, author, author, m.ConversationID).Scan(&seqs).Error; err != nil {
		return false, err
	}
	if len(seqs) == 0 {
		return false, instance.ErrNotFound
	}
	row := chatMessageRow{ConversationID: m.ConversationID, Seq: seqs[0], Author: author, AuthorUserID: m.AuthorUserID, Body: m.Body,
		ClientID: m.ClientID, Internal: m.Internal, CreatedAt: m.CreatedAt}
	var att *chat.Attachment
	if a := m.Attachment; a != nil {
		ar := chatAttachmentRow{ConversationID: m.ConversationID, Filename: a.Filename, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256, CreatedAt: m.CreatedAt}
		if err := tx.Create(&ar).Error; err != nil {
			return false, err
		}
		row.AttachmentID, att = &ar.ID, ar.domain()
	}
	if err := tx.Create(&row).Error; err != nil {
		return false, translate(err)
	}
	*m = row.domain()
	m.Attachment = att
	return false, nil
}
