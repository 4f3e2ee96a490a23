// Package notify tells people what happened: e-mail to requesters and agents through a
// durable outbox, and (later) Slack, Discord, Bark and signed webhooks.
package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/worker"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// Mail is one message in the outbox.
type Mail struct {
	ID        int64
	To        string
	Subject   string
	Body      string
	MessageID string
	InReplyTo string
	Kind      string // what it is for: reply, new_ticket, confirmation
	// One file may go along (a booking's .ics): its name, media type and content.
	AttachmentName string
	AttachmentType string
	AttachmentBody string
	Status         string // pending, sent, failed
	Attempts       int
	NextAttempt    time.Time
	LastError      string
	CreatedAt      time.Time
	SentAt         *time.Time
}

// Mail states.
const (
	MailPending = "pending"
	MailSent    = "sent"
	MailFailed  = "failed"
)

// OutboxStore is the outbox table.
type OutboxStore interface {
	EnqueueMail(ctx context.Context, m *Mail) error
	ClaimMail(ctx context.Context, now time.Time, hold time.Duration, limit int) ([]Mail, error)
	// ReleaseMail gives back claimed messages that were not attempted: each is due
	// again at its NextAttempt, as before the claim.
	ReleaseMail(ctx context.Context, ms []Mail) error
	SaveMail(ctx context.Context, m Mail) error
	ListMail(ctx context.Context, limit int) ([]Mail, error)
}

// Transport hands a message to a mail server.
type Transport interface {
	Send(ctx context.Context, from string, to []string, msg []byte) error
}

// MaxMailAttempts spreads over about two days with the backoff below before a message
// is marked failed.
const MaxMailAttempts = 20

// mailBackoff after n failures: 30 s doubling, at most 3 hours.
func mailBackoff(n int) time.Duration {
	return min(30*time.Second<<min(max(n-1, 0), 10), 3*time.Hour)
}

// Mailer queues and sends e-mail.
type Mailer struct {
	store     OutboxStore
	transport Transport // nil: no SMTP configured; mail waits
	from      mail.Address
	clock     clock.Clock
	log       *slog.Logger
	domain    string // for Message-IDs
}

// NewMailer returns a mailer sending as from; transport may be nil.
func NewMailer(s OutboxStore, t Transport, from mail.Address, c clock.Clock, log *slog.Logger) *Mailer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	domain := "sproudchat.invalid"
	if at := strings.LastIndexByte(from.Address, '@'); at >= 0 {
		domain = from.Address[at+1:]
	}
	return &Mailer{store: s, transport: t, from: from, clock: c, log: log, domain: domain}
}

// NewMessageID returns a fresh Message-ID in the sender's domain.
func (m *Mailer) NewMessageID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "<" + hex.EncodeToString(b) + "@" + m.domain + ">"
}

// ErrHeaderBreak is returned for a message with a CR or LF in a header value (the
// recipient, subject, a name, a message id, the attachment's name or type): it would
// end the header there and start one of the sender's choosing, such as a Bcc.
var ErrHeaderBreak = errors.New("a mail header value holds a line break")

// checkHeaders refuses msg if any value that goes into its header holds a CR or LF,
// before any encoding could hide it.
func (m *Mailer) checkHeaders(msg Mail) error {
	for _, f := range []struct{ name, value string }{
		{"From", m.from.Name}, {"From", m.from.Address}, {"To", msg.To}, {"Subject", msg.Subject},
		{"Message-ID", msg.MessageID}, {"In-Reply-To", msg.InReplyTo},
		{"attachment name", msg.AttachmentName}, {"attachment type", msg.AttachmentType},
	} {
		if strings.ContainsAny(f.value, "\r\n") {
			return fmt.Errorf("%s: %w", f.name, ErrHeaderBreak)
		}
	}
	return nil
}

// subjectLine makes a subject of text that others wrote (a ticket's subject, a
// visitor's name): each line break becomes a space, so the message is sent rather than
// refused by checkHeaders.
func subjectLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

// Enqueue stores a message for sending. The caller's request succeeds whether or not
// the mail server is up. Returns an error wrapping ErrHeaderBreak, storing nothing, if
// a header value holds a line break.
func (m *Mailer) Enqueue(ctx context.Context, msg Mail) (Mail, error) {
	now := m.clock.Now()
	if err := m.checkHeaders(msg); err != nil {
		return Mail{}, fmt.Errorf("enqueue mail: %w", err)
	}
	if _, err := mail.ParseAddress(msg.To); err != nil {
		return Mail{}, fmt.Errorf("enqueue mail: bad recipient: %w", err)
	}
	if msg.MessageID == "" {
		msg.MessageID = m.NewMessageID()
	}
	msg.Status, msg.NextAttempt, msg.CreatedAt = MailPending, now, now
	if err := m.store.EnqueueMail(ctx, &msg); err != nil {
		return Mail{}, fmt.Errorf("enqueue mail: %w", err)
	}
	return msg, nil
}

// Deliver sends what is due now. Returns how many messages it tried.
func (m *Mailer) Deliver(ctx context.Context) (int, error) { return m.deliver(ctx, nil) }

// deliver sends what is due now under ctx, taking no new message once stop is closed:
// the one being sent is finished and recorded, the others claimed are given back.
func (m *Mailer) deliver(ctx context.Context, stop <-chan struct{}) (int, error) {
	if m.transport == nil {
		return 0, nil
	}
	due, err := m.store.ClaimMail(ctx, m.clock.Now(), 5*time.Minute, 20)
	if err != nil {
		return 0, err
	}
	for i, msg := range due {
		if worker.Stopped(stop) {
			if err := m.store.ReleaseMail(ctx, due[i:]); err != nil {
				return i, fmt.Errorf("release mail: %w", err)
			}
			return i, nil
		}
		msg.Attempts++
		raw, err := m.Render(msg)
		if err == nil {
			err = m.transport.Send(ctx, m.from.Address, []string{msg.To}, raw)
		}
		now := m.clock.Now()
		switch {
		case err == nil:
			msg.Status, msg.SentAt, msg.LastError = MailSent, &now, ""
		case errors.Is(err, ErrHeaderBreak), msg.Attempts >= MaxMailAttempts:
			msg.Status, msg.LastError = MailFailed, err.Error()
		default:
			msg.LastError, msg.NextAttempt = err.Error(), now.Add(mailBackoff(msg.Attempts))
		}
		if err != nil {
			m.log.WarnContext(ctx, "mail not sent", "mail_id", msg.ID, "attempt", msg.Attempts, "error", err.Error())
		}
		if serr := m.store.SaveMail(ctx, msg); serr != nil {
			return 0, serr
		}
	}
	return len(due), nil
}

// Run delivers every o.Every until ctx ends, then returns once the message being sent
// is sent and recorded (see worker.Loop).
func (m *Mailer) Run(ctx context.Context, o worker.Options) {
	if m.transport == nil {
		m.log.InfoContext(ctx, "no SMTP server configured (SPROUDCHAT_SMTP_URL): e-mail waits in the outbox")
	}
	worker.Loop(ctx, o, func(work context.Context) {
		if _, err := m.deliver(work, ctx.Done()); err != nil && work.Err() == nil {
			m.log.ErrorContext(work, "deliver mail", "error", err.Error())
		}
	})
}

// Render makes the RFC 5322 message: UTF-8 plain text, quoted-printable. Returns an
// error wrapping ErrHeaderBreak, and no message, if a header value holds a line break.
func (m *Mailer) Render(msg Mail) ([]byte, error) {
	if err := m.checkHeaders(msg); err != nil {
		return nil, fmt.Errorf("render mail: %w", err)
	}
	var b bytes.Buffer
	var broken error // a line break in a header as written, whatever its source
	hdr := func(k, v string) {
		if strings.ContainsAny(v, "\r\n") && broken == nil {
			broken = fmt.Errorf("render mail: %s: %w", k, ErrHeaderBreak)
		}
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	hdr("From", m.from.String())
	hdr("To", msg.To)
	hdr("Subject", mime.QEncoding.Encode("utf-8", msg.Subject))
	hdr("Date", msg.CreatedAt.Format(time.RFC1123Z))
	hdr("Message-ID", msg.MessageID)
	if msg.InReplyTo != "" {
		hdr("In-Reply-To", msg.InReplyTo)
		hdr("References", msg.InReplyTo)
	}
	if msg.Kind != "reply" {
		hdr("Auto-Submitted", "auto-generated")
	}
	hdr("MIME-Version", "1.0")
	text := func() {
		hdr("Content-Type", "text/plain; charset=utf-8")
		hdr("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		qp := quotedprintable.NewWriter(&b)
		qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(msg.Body, "\r\n", "\n"), "\n", "\r\n")))
		qp.Close()
	}
	if msg.AttachmentName == "" {
		text()
		return unlessBroken(b.Bytes(), broken)
	}
	boundary := "sproudchat-" + strings.Trim(strings.NewReplacer("<", "", ">", "", "@", "-", ".", "-").Replace(msg.MessageID), "-")
	hdr("Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": boundary}))
	b.WriteString("\r\n--" + boundary + "\r\n")
	text()
	b.WriteString("\r\n--" + boundary + "\r\n")
	hdr("Content-Type", msg.AttachmentType)
	hdr("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": msg.AttachmentName}))
	hdr("Content-Transfer-Encoding", "base64")
	b.WriteString("\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(msg.AttachmentBody))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--" + boundary + "--\r\n")
	return unlessBroken(b.Bytes(), broken)
}

func unlessBroken(b []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Outbox lists the latest messages, newest first.
func (m *Mailer) Outbox(ctx context.Context, limit int) ([]Mail, error) {
	return m.store.ListMail(ctx, limit)
}
