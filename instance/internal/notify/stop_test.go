package notify_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sproudstack/sproudchat/instance/internal/notify"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
	"github.com/sproudstack/sproudchat/instance/internal/worker"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// slowInbox is an SMTP server that holds the first message's data until released.
type slowInbox struct {
	inbox
	entered, release chan struct{}
}

func (b *slowInbox) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &slowSession{session: session{box: &b.inbox}, in: b}, nil
}

type slowSession struct {
	session
	in *slowInbox
}

func (s *slowSession) Data(r io.Reader) error {
	if s.in.count() == 0 {
		close(s.in.entered)
		<-s.in.release
	}
	return s.session.Data(r)
}

// runUntilStopped starts run, waits until entered is closed (an item is in progress),
// stops it, and checks that it returns only after release is closed.
func runUntilStopped(t *testing.T, run func(context.Context), entered, release chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); run(ctx) }()
	<-entered
	cancel()
	select {
	case <-done:
		t.Error("the worker returned while the item it was on was still in progress")
	default:
	}
	close(release)
	<-done
}

// TestMailerStopsBetweenMessages: stopped while a message is being handed to the SMTP
// server, the mailer finishes handing it over and records it sent; the other messages
// it had claimed are given back, due at once, not held for the claim's five minutes.
func TestMailerStopsBetweenMessages(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpen(t, store.SQLite)
	clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	box := &slowInbox{entered: make(chan struct{}), release: make(chan struct{})}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); ln.Close(); <-served })
	u, _ := url.Parse("smtp://" + ln.Addr().String())
	mailer := notify.NewMailer(store.NewOutbox(db), notify.NewSMTP(u), mail.Address{Address: "support@acme.example"}, clk, nil)
	for _, to := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		if _, err := mailer.Enqueue(ctx, notify.Mail{To: to, Subject: "Hello", Body: "A body long enough to be sent in pieces.\n" + string(bytes.Repeat([]byte("x"), 4000))}); err != nil {
			t.Fatal(err)
		}
	}

	runUntilStopped(t, func(ctx context.Context) { mailer.Run(ctx, worker.Options{Every: time.Hour, Grace: time.Hour}) }, box.entered, box.release)

	out, err := mailer.Outbox(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, m := range out {
		switch {
		case m.Status == notify.MailSent && m.Attempts == 1:
			sent++
			raw, _ := mailer.Render(m)
			box.mu.Lock()
			// SMTP ends the data with a line break if the message did not.
			whole := len(box.msgs) == 1 && bytes.Equal(bytes.TrimSuffix(box.msgs[0].data, []byte("\r\n")), bytes.TrimSuffix(raw, []byte("\r\n")))
			box.mu.Unlock()
			if !whole {
				t.Errorf("the server did not get the message whole: %d messages", box.count())
			}
		case m.Status == notify.MailPending && m.Attempts == 0 && !m.NextAttempt.After(clk.Now()):
		default:
			t.Errorf("mail to %s: %s, %d attempts, next %v; want sent, or given back due now", m.To, m.Status, m.Attempts, m.NextAttempt)
		}
	}
	if sent != 1 {
		t.Errorf("%d messages sent, want the one in progress", sent)
	}
}

// TestHooksStopBetweenDeliveries: stopped while a notification is being delivered, the
// worker waits for the receiver's answer and records the delivery sent; the one it had
// claimed for the other target is given back, due at once.
func TestHooksStopBetweenDeliveries(t *testing.T) {
	e := newHooks(t, storetest.MustOpen(t, store.SQLite), true)
	entered, release := make(chan struct{}), make(chan struct{})
	rx := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 0 {
			close(entered)
			<-release
		}
		w.WriteHeader(http.StatusNoContent)
	})
	for _, path := range []string{"/one", "/two"} {
		e.target(t, notify.TargetInput{Kind: notify.KindWebhook, URL: rx.srv.URL + path})
	}
	ev := notify.Event{Type: notify.EventChatNew, Title: "New chat from Lena", Text: "Hi"}
	if err := e.hooks.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}

	runUntilStopped(t, func(ctx context.Context) { e.hooks.Run(ctx, worker.Options{Every: time.Hour, Grace: time.Hour}) }, entered, release)

	var rows []struct {
		Status        string
		Attempts      int
		NextAttemptAt time.Time
	}
	if err := e.db.Gorm().Raw("SELECT status, attempts, next_attempt_at FROM notify_deliveries ORDER BY id").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d deliveries, want 2", len(rows))
	}
	if r := rows[0]; r.Status != notify.MailSent || r.Attempts != 1 {
		t.Errorf("the delivery in progress: %s after %d attempts, want sent after 1", r.Status, r.Attempts)
	}
	if r := rows[1]; r.Status != notify.MailPending || r.Attempts != 0 || r.NextAttemptAt.After(e.clock.Now()) {
		t.Errorf("the delivery not started: %s after %d attempts, next %v; want pending, due now", r.Status, r.Attempts, r.NextAttemptAt)
	}
	if rx.count() != 1 {
		t.Errorf("the receiver got %d requests, want 1", rx.count())
	}
}
