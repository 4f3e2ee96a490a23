// Package benchseed fills an instance's database for benchmarks: tickets with their
// first message and tags, knowledge-base articles, attachments. Not for production.
package benchseed

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"strings"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/kb"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/platform/clock"
)

var words = strings.Fields("Rechnung Lieferung Rückerstattung Passwort Konto Versand Drucker Bestellung Zahlung Gutschein Anmeldung Fehler invoice delivery refund password account shipping order payment coupon login error")

// Helpdesk seeds five agents, nTickets tickets in batches straight through the ORM (each
// with its first message and a tag) and nArticles published articles through the
// service (so they are rendered and indexed).
func Helpdesk(ctx context.Context, db *store.DB, nTickets, nArticles int) error {
	g := db.Gorm()
	now := time.Now().UTC()
	for u := 1; u <= 5; u++ {
		g.Exec("INSERT INTO users (email, name, role, active, locale, password_hash, created_at, updated_at) VALUES (?, ?, 'agent', TRUE, '', 'x', ?, ?)",
			fmt.Sprintf("agent%d@example.org", u), fmt.Sprintf("Agent %d", u), now, now)
	}
	statuses := []string{"new", "open", "pending", "solved", "closed"}
	prios := []string{"low", "normal", "high", "urgent"}
	tags := []string{"billing", "shipping", "account", "bug", "question"}
	const batch = 1000
	for start := 0; start < nTickets; start += batch {
		tx := g.Begin()
		for i := start; i < min(start+batch, nTickets); i++ {
			at := now.Add(-time.Duration(nTickets-i) * time.Minute)
			subject := words[i%len(words)] + " " + words[(i*7)%len(words)] + fmt.Sprintf(" %d", i%9000)
			var assignee any
			if i%3 != 0 {
				assignee = 1 + i%5
			}
			if err := tx.Exec(`INSERT INTO tickets (subject, requester_name, requester_email, status, priority, assignee_id, source, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, 'bench', ?, ?)`, subject, "Customer", fmt.Sprintf("customer%d@example.org", i%5000), statuses[i%5], prios[i%4], assignee, at, at).Error; err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit().Error; err != nil {
			return err
		}
	}
	if err := g.Exec(`INSERT INTO ticket_messages (ticket_id, kind, author_name, author_email, body, created_at)
		SELECT id, 'message', requester_name, requester_email, subject || ' — bitte um Hilfe mit meiner Anfrage', created_at FROM tickets`).Error; err != nil {
		return err
	}
	for i, tag := range tags {
		if err := g.Exec(`INSERT INTO ticket_tags (ticket_id, tag) SELECT id, ? FROM tickets WHERE id % 5 = ?`, tag, i).Error; err != nil {
			return err
		}
	}
	defer g.Exec("ANALYZE") // as a live database has statistics for its planner
	ks := kb.NewService(store.NewKB(db), clock.Real{})
	author := accounts.Principal{User: accounts.User{ID: 1}}
	rnd := mrand.New(mrand.NewPCG(1, 2))
	for i := 0; i < nArticles; i++ {
		lang := "de"
		if i%2 == 1 {
			lang = "en"
		}
		var body strings.Builder
		for w := 0; w < 120; w++ {
			body.WriteString(words[rnd.IntN(len(words))] + " ")
		}
		title := fmt.Sprintf("%s %s %d", words[rnd.IntN(len(words))], words[rnd.IntN(len(words))], i)
		if _, err := ks.Save(ctx, author, 0, kb.Input{Title: title, Body: body.String(), Language: lang, Publish: true}); err != nil {
			return err
		}
	}
	return nil
}

// Attachments stores files of fileSize random (incompressible) bytes until total bytes
// are stored, each attached to one of the first tickets: what a year of screenshots and
// PDFs looks like to a backup.
func Attachments(ctx context.Context, db *store.DB, blobs *store.Blobs, total, fileSize int64) (files int, err error) {
	g := db.Gorm().WithContext(ctx)
	now := time.Now().UTC()
	for stored := int64(0); stored < total; stored += fileSize {
		sum, size, ctype, _, err := blobs.Put(io.LimitReader(rand.Reader, fileSize), fileSize)
		if err != nil {
			return files, err
		}
		if err := g.Exec(`INSERT INTO attachments (ticket_id, filename, content_type, size, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			1+files%1000, fmt.Sprintf("scan-%d.bin", files), ctype, size, sum, now).Error; err != nil {
			return files, err
		}
		files++
	}
	return files, nil
}

// OneTicket adds one ticket with its first message: the day's change between two backups.
func OneTicket(ctx context.Context, db *store.DB, subject string) error {
	now := time.Now().UTC()
	g := db.Gorm().WithContext(ctx)
	if err := g.Exec(`INSERT INTO tickets (subject, requester_name, requester_email, status, priority, source, created_at, updated_at)
		VALUES (?, 'Customer', 'new@example.org', 'new', 'normal', 'bench', ?, ?)`, subject, now, now).Error; err != nil {
		return err
	}
	return g.Exec(`INSERT INTO ticket_messages (ticket_id, kind, author_name, author_email, body, created_at)
		SELECT id, 'message', requester_name, requester_email, subject, created_at FROM tickets WHERE subject = ?`, subject).Error
}
