package notify_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sproudstack/sproudchat/instance/internal/notify"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// tlsInbox is a real SMTP server offering STARTTLS with a certificate for 127.0.0.1;
// it notes whether each message came over TLS.
type tlsInbox struct {
	box    inbox
	mu     sync.Mutex
	secure []bool
}

func (b *tlsInbox) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &tlsSession{session: session{box: &b.box}, conn: c, in: b}, nil
}

type tlsSession struct {
	session
	conn *smtp.Conn
	in   *tlsInbox
}

func (s *tlsSession) Data(r io.Reader) error {
	_, ok := s.conn.TLSConnectionState()
	s.in.mu.Lock()
	s.in.secure = append(s.in.secure, ok)
	s.in.mu.Unlock()
	return s.session.Data(r)
}

// startTLSSMTP starts the server and returns it with the roots that trust it.
func startTLSSMTP(t *testing.T) (*tlsInbox, string, *x509.CertPool) {
	t.Helper()
	// httptest's certificate is valid for 127.0.0.1.
	hts := httptest.NewUnstartedServer(nil)
	hts.StartTLS()
	cert, roots := hts.TLS.Certificates[0], x509.NewCertPool()
	roots.AddCert(hts.Certificate())
	hts.Close()
	in := &tlsInbox{}
	srv := smtp.NewServer(in)
	srv.Domain, srv.TLSConfig = "localhost", &tls.Config{Certificates: []tls.Certificate{cert}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(ln) }()
	// Closing the listener too ends Serve even if Close came before Serve took it.
	t.Cleanup(func() { srv.Close(); ln.Close(); <-served })
	return in, ln.Addr().String(), roots
}

func (b *inbox) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

// TestSMTPTLSRequired: with ?tls=required a server that offers no STARTTLS gets
// nothing, not even the password, and the message waits in the outbox for a retry;
// one that offers it gets the message over TLS.
func TestSMTPTLSRequired(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	mailer := func(t *testing.T, rawURL string, roots *x509.CertPool) *notify.Mailer {
		t.Helper()
		u, err := url.Parse(rawURL)
		if err != nil {
			t.Fatal(err)
		}
		tr := notify.NewSMTP(u)
		if roots != nil {
			tr.TrustRoots(roots)
		}
		m := notify.NewMailer(store.NewOutbox(storetest.MustOpen(t, store.SQLite)), tr, mail.Address{Address: "support@acme.example"}, clk, nil)
		if _, err := m.Enqueue(ctx, notify.Mail{To: "rita@example.org", Subject: "Hello", Body: "Hi", Kind: "reply"}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	outbox := func(t *testing.T, m *notify.Mailer) notify.Mail {
		t.Helper()
		out, err := m.Outbox(ctx, 10)
		if err != nil {
			t.Fatalf("outbox: %v", err)
		}
		if len(out) != 1 {
			t.Fatalf("outbox: %d mails, want 1: %+v", len(out), out)
		}
		return out[0]
	}

	t.Run("no STARTTLS offered", func(t *testing.T) {
		addr := freeAddr(t)
		box := startSMTP(t, addr) // plain SMTP only
		m := mailer(t, "smtp://user:secret@"+addr+"?tls=required", nil)
		for attempt := 1; attempt <= 2; attempt++ {
			if n, err := m.Deliver(ctx); err != nil || n != 1 {
				t.Fatalf("deliver: %d %v", n, err)
			}
			want := []mailState{{Status: notify.MailPending, Attempts: attempt, ErrorMentions: true}}
			if diff := cmp.Diff(want, statesOf([]notify.Mail{outbox(t, m)}, "tls=required")); diff != "" {
				t.Fatalf("after attempt %d (-want +got):\n%s", attempt, diff)
			}
			clk.Advance(time.Hour)
		}
		if n := box.count(); n != 0 {
			t.Fatalf("the server without STARTTLS received %d messages", n)
		}
		// The same server takes it when TLS is not required: the option made the difference.
		plain := mailer(t, "smtp://"+addr, nil)
		if n, err := plain.Deliver(ctx); err != nil || n != 1 {
			t.Fatalf("without tls=required: deliver: %d %v", n, err)
		}
		if diff := cmp.Diff([]mailState{{Status: notify.MailSent, Sent: true}}, statesOf([]notify.Mail{outbox(t, plain)}, ""),
			cmpopts.IgnoreFields(mailState{}, "Attempts")); diff != "" {
			t.Fatalf("without tls=required (-want +got):\n%s", diff)
		}
		if n := box.count(); n != 1 {
			t.Fatalf("without tls=required: the server received %d messages, want 1", n)
		}
	})

	t.Run("STARTTLS offered", func(t *testing.T) {
		in, addr, roots := startTLSSMTP(t)
		m := mailer(t, "smtp://"+addr+"?tls=required", roots)
		if n, err := m.Deliver(ctx); err != nil || n != 1 {
			t.Fatalf("deliver: %d %v", n, err)
		}
		if diff := cmp.Diff([]mailState{{Status: notify.MailSent, Sent: true}}, statesOf([]notify.Mail{outbox(t, m)}, ""),
			cmpopts.IgnoreFields(mailState{}, "Attempts")); diff != "" {
			t.Fatalf("outbox (-want +got):\n%s", diff)
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		if len(in.secure) != 1 || !in.secure[0] {
			t.Fatalf("received over TLS: %v", in.secure)
		}
	})
}

func TestErrNoSTARTTLSIsNamed(t *testing.T) {
	addr := freeAddr(t)
	startSMTP(t, addr)
	u, _ := url.Parse("smtp://" + addr + "?tls=required")
	if err := notify.NewSMTP(u).Send(context.Background(), "a@example.org", []string{"b@example.org"}, []byte("Subject: x\r\n\r\nx")); !errors.Is(err, notify.ErrNoSTARTTLS) {
		t.Fatalf("send: %v, want ErrNoSTARTTLS", err)
	}
}
