package notify_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/notify"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// inbox is a real SMTP server in the test process that keeps what it receives.
type inbox struct {
	mu   sync.Mutex
	msgs []received
}

type received struct {
	from string
	to   []string
	data []byte
}

func (b *inbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{box: b}, nil }

type session struct {
	box  *inbox
	from string
	to   []string
}

func (s *session) AuthMechanisms() []string                    { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = append(s.to, to); return nil }
func (s *session) Reset()                                      {}
func (s *session) Logout() error                               { return nil }
func (s *session) Data(r io.Reader) error {
	b, _ := io.ReadAll(r)
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, received{s.from, s.to, b})
	s.box.mu.Unlock()
	return nil
}

func startSMTP(t *testing.T, addr string) *inbox {
	t.Helper()
	box := &inbox{}
	srv := smtp.NewServer(box)
	srv.Domain, srv.AllowInsecureAuth = "localhost", true
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(ln) }()
	// Closing the listener too ends Serve even if Close came before Serve took it.
	t.Cleanup(func() { srv.Close(); ln.Close(); <-served })
	return box
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestReplyWaitsWhileSMTPIsDownAndArrivesAfter: an agent's reply goes to the outbox;
// with the SMTP server down it waits (state visible), and once the server is up it is
// delivered to the requester with the documented headers.
func TestReplyWaitsWhileSMTPIsDownAndArrivesAfter(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpen(t, store.SQLite)
	clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	acc, err := accounts.NewService(store.NewAccounts(db), accounts.Options{Clock: clk, SecretKey: make([]byte, 32), SetupToken: "setup-token-0123456789", Hash: accounts.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := acc.Setup(ctx, accounts.SetupInput{Token: "setup-token-0123456789", Name: "Ada Agent", Email: "ada@acme.example", Password: "long enough pw"}, accounts.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t) // nothing listens yet
	u, _ := url.Parse("smtp://" + addr)
	mailer := notify.NewMailer(store.NewOutbox(db), notify.NewSMTP(u), mail.Address{Name: "Acme Support", Address: "support@acme.example"}, clk, nil)
	ts := tickets.NewService(store.NewTickets(db), clk)
	ts.SetNotifier(notify.NewTicketMail(mailer, acc, "https://acme.sproud.chat", nil), nil)

	tk, err := ts.Create(ctx, nil, tickets.NewTicket{Subject: "Rückerstattung für März", RequesterName: "Rita", RequesterEmail: "rita@example.org", Body: "Bitte erstatten."})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ts.AddMessage(ctx, accounts.Principal{User: admin}, tk.ID, tickets.Reply, "Die Erstattung ist unterwegs.\nViele Grüße"); err != nil {
		t.Fatal(err)
	}
	if n, err := mailer.Deliver(ctx); err != nil || n != 2 {
		t.Fatalf("first delivery round: %d, %v", n, err)
	}
	out, _ := mailer.Outbox(ctx, 10)
	down := mailState{Status: notify.MailPending, Attempts: 1, ErrorMentions: true}
	if diff := cmp.Diff([]mailState{down, down}, statesOf(out, "connect")); diff != "" {
		t.Fatalf("while SMTP is down (-want +got):\n%s", diff)
	}

	box := startSMTP(t, addr)
	clk.Advance(time.Minute)
	if n, err := mailer.Deliver(ctx); err != nil || n != 2 {
		t.Fatalf("delivery once the server is up: %d, %v", n, err)
	}
	out, _ = mailer.Outbox(ctx, 10)
	sent := mailState{Status: notify.MailSent, Sent: true}
	if diff := cmp.Diff([]mailState{sent, sent}, statesOf(out, ""), cmpopts.IgnoreFields(mailState{}, "Attempts")); diff != "" {
		t.Fatalf("after delivery (-want +got):\n%s", diff)
	}
	box.mu.Lock()
	defer box.mu.Unlock()
	var reply *received
	for i, m := range box.msgs {
		if m.to[0] == "rita@example.org" {
			reply = &box.msgs[i]
		}
	}
	if len(box.msgs) != 2 || reply == nil {
		t.Fatalf("received %d messages", len(box.msgs))
	}
	if reply.from != "support@acme.example" {
		t.Fatalf("MAIL FROM %q", reply.from)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(reply.data))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	checks := map[string]bool{
		"subject":      subject == "Re: Rückerstattung für März [#"+itoa(tk.ID)+"]",
		"from":         msg.Header.Get("From") == `"Acme Support" <support@acme.example>`,
		"to":           msg.Header.Get("To") == "rita@example.org",
		"message-id":   strings.HasSuffix(msg.Header.Get("Message-Id"), "@acme.example>"),
		"content-type": msg.Header.Get("Content-Type") == "text/plain; charset=utf-8",
		"no auto":      msg.Header.Get("Auto-Submitted") == "",
		"body":         strings.Contains(string(body), "Die Erstattung ist unterwegs.\r\nViele Grüße") && strings.Contains(string(body), "Ada Agent"),
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("%s wrong:\n%s", what, reply.data)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestLineBreakInAHeaderIsRefused: a CR or LF in any header value (recipient, subject,
// sender's name, ids, attachment) is refused when queued, and a message that reached
// the outbox anyway is marked failed, never sent.
func TestLineBreakInAHeaderIsRefused(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpen(t, store.SQLite)
	clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	addr := freeAddr(t)
	box := startSMTP(t, addr)
	u, _ := url.Parse("smtp://" + addr)
	outbox := store.NewOutbox(db)
	mailer := notify.NewMailer(outbox, notify.NewSMTP(u), mail.Address{Name: "Acme Support", Address: "support@acme.example"}, clk, nil)
	good := notify.Mail{To: "rita@example.org", Subject: "Hello", Body: "Hi", Kind: "reply"}
	for _, tc := range []struct {
		name string
		edit func(*notify.Mail)
	}{
		{"To", func(m *notify.Mail) { m.To = "rita@example.org\r\nBcc: evil@example.net" }},
		{"To with LF", func(m *notify.Mail) { m.To = "rita@example.org\nBcc: evil@example.net" }},
		{"Subject", func(m *notify.Mail) { m.Subject = "Hello\r\nBcc: evil@example.net" }},
		{"Subject with CR", func(m *notify.Mail) { m.Subject = "Hello\rBcc: evil@example.net" }},
		{"In-Reply-To", func(m *notify.Mail) { m.InReplyTo = "<a@example.org>\r\nBcc: evil@example.net" }},
		{"Message-ID", func(m *notify.Mail) { m.MessageID = "<a@example.org>\nBcc: evil@example.net" }},
		{"attachment name", func(m *notify.Mail) { m.AttachmentName, m.AttachmentType = "a.ics\r\nX: y", "text/calendar" }},
		{"attachment type", func(m *notify.Mail) {
			m.AttachmentName, m.AttachmentType = "a.ics", "text/calendar\r\nBcc: evil@example.net"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := good
			tc.edit(&msg)
			if _, err := mailer.Enqueue(ctx, msg); !errors.Is(err, notify.ErrHeaderBreak) {
				t.Fatalf("enqueue: %v, want ErrHeaderBreak", err)
			}
			if _, err := mailer.Render(msg); !errors.Is(err, notify.ErrHeaderBreak) {
				t.Fatalf("render: %v, want ErrHeaderBreak", err)
			}
		})
	}
	t.Run("sender's name", func(t *testing.T) {
		bad := notify.NewMailer(outbox, notify.NewSMTP(u), mail.Address{Name: "Acme\r\nBcc: evil@example.net", Address: "support@acme.example"}, clk, nil)
		if _, err := bad.Enqueue(ctx, good); !errors.Is(err, notify.ErrHeaderBreak) {
			t.Fatalf("enqueue: %v, want ErrHeaderBreak", err)
		}
	})
	if out, _ := mailer.Outbox(ctx, 10); len(out) != 0 {
		t.Fatalf("the outbox holds %d messages after refusals", len(out))
	}

	// One that reached the outbox by another way is never sent.
	stored := good
	stored.InReplyTo, stored.MessageID, stored.Status, stored.NextAttempt, stored.CreatedAt = "<a@example.org>\r\nBcc: evil@example.net", "<b@acme.example>", notify.MailPending, clk.Now(), clk.Now()
	if err := outbox.EnqueueMail(ctx, &stored); err != nil {
		t.Fatal(err)
	}
	if n, err := mailer.Deliver(ctx); err != nil || n != 1 {
		t.Fatalf("deliver: %d, %v", n, err)
	}
	out, _ := mailer.Outbox(ctx, 10)
	if diff := cmp.Diff([]mailState{{Status: notify.MailFailed, ErrorMentions: true}}, statesOf(out, "line break"),
		cmpopts.IgnoreFields(mailState{}, "Attempts")); diff != "" {
		t.Fatalf("outbox after delivering a broken header (-want +got):\n%s", diff)
	}
	box.mu.Lock()
	defer box.mu.Unlock()
	if len(box.msgs) != 0 {
		t.Fatalf("the server received %d messages: %q", len(box.msgs), box.msgs[0].data)
	}
}

// TestTicketSubjectWithALineBreakStillMails: a subject someone else typed (a ticket's,
// from the contact form) is made one line, so the team's notice and the reply are sent
// rather than refused, and no header can be added through it.
func TestTicketSubjectWithALineBreakStillMails(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpen(t, store.SQLite)
	clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	acc, err := accounts.NewService(store.NewAccounts(db), accounts.Options{Clock: clk, SecretKey: make([]byte, 32), SetupToken: "setup-token-0123456789", Hash: accounts.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := acc.Setup(ctx, accounts.SetupInput{Token: "setup-token-0123456789", Name: "Ada Agent", Email: "ada@acme.example", Password: "long enough pw"}, accounts.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	mailer := notify.NewMailer(store.NewOutbox(db), nil, mail.Address{Name: "Acme Support", Address: "support@acme.example"}, clk, nil)
	ts := tickets.NewService(store.NewTickets(db), clk)
	ts.SetNotifier(notify.NewTicketMail(mailer, acc, "https://acme.sproud.chat", nil), nil)
	tk, err := ts.Create(ctx, nil, tickets.NewTicket{Subject: "Refund\r\nBcc: evil@example.net", RequesterEmail: "rita@example.org", Body: "Please."})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ts.AddMessage(ctx, accounts.Principal{User: admin}, tk.ID, tickets.Reply, "On its way."); err != nil {
		t.Fatal(err)
	}
	out, _ := mailer.Outbox(ctx, 10)
	want := map[string]string{
		"ada@acme.example": "New ticket [#" + itoa(tk.ID) + "] Refund Bcc: evil@example.net",
		"rita@example.org": "Re: Refund Bcc: evil@example.net [#" + itoa(tk.ID) + "]",
	}
	got := map[string]string{}
	for _, m := range out {
		got[m.To] = m.Subject
		raw, err := mailer.Render(m)
		if err != nil {
			t.Fatalf("render %s: %v", m.To, err)
		}
		if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err != nil || msg.Header.Get("Bcc") != "" {
			t.Errorf("mail to %s: %v, Bcc %q", m.To, err, msg.Header.Get("Bcc"))
		}
	}
	if len(got) != len(want) || got["ada@acme.example"] != want["ada@acme.example"] || got["rita@example.org"] != want["rita@example.org"] {
		t.Fatalf("subjects %q, want %q", got, want)
	}
}

// mailState is what the outbox tests check of a mail: its status and attempts, whether
// its last error mentions what it should, and whether it has a sent time.
type mailState struct {
	Status        string
	Attempts      int
	ErrorMentions bool
	Sent          bool
}

// statesOf gives the state of each mail; errPart is what a last error should mention
// ("" for none).
func statesOf(ms []notify.Mail, errPart string) []mailState {
	var out []mailState
	for _, m := range ms {
		out = append(out, mailState{m.Status, m.Attempts, errPart != "" && strings.Contains(m.LastError, errPart), m.SentAt != nil})
	}
	return out
}
