package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTP sends through the server of an smtp:// or smtps:// URL: smtps is TLS from the
// first byte; smtp upgrades with STARTTLS when the server offers it, and with
// ?tls=required sends nothing to a server that does not (someone on the way could have
// removed the offer). Credentials never travel unencrypted to a host other than
// loopback.
type SMTP struct {
	addr       string
	implicit   bool
	requireTLS bool
	user       string
	pass       string
	tls        *tls.Config
}

// ErrNoSTARTTLS is returned by Send when the URL says tls=required and the server
// offers no STARTTLS: nothing was sent.
var ErrNoSTARTTLS = errors.New("the server offers no STARTTLS and the SMTP URL says tls=required: nothing sent")

// NewSMTP returns the transport of u.
func NewSMTP(u *url.URL) *SMTP {
	port := u.Port()
	if port == "" {
		port = map[bool]string{true: "465", false: "587"}[u.Scheme == "smtps"]
	}
	s := &SMTP{addr: net.JoinHostPort(u.Hostname(), port), implicit: u.Scheme == "smtps", requireTLS: u.Query().Get("tls") == "required",
		tls: &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	return s
}

// Send delivers one message.
func (s *SMTP) Send(ctx context.Context, from string, to []string, msg []byte) error {
	c, secure, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if s.user != "" {
		if !secure && !s.loopback() {
			return errors.New("the server offers no TLS: refusing to send the password in clear")
		}
		if err := c.Auth(sasl.NewPlainClient("", s.user, s.pass)); err != nil {
			return fmt.Errorf("authenticate: %w", err)
		}
	}
	if err := c.SendMail(from, to, bytes.NewReader(msg)); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return c.Quit()
}

func (s *SMTP) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: 15 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", s.addr, err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Minute)
	}
	conn.SetDeadline(deadline)
	// A send in progress when ctx ends stops there (the worker's grace is over).
	return &ctxConn{Conn: conn, stop: context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })}, nil
}

// ctxConn is a connection that times out when its context ends.
type ctxConn struct {
	net.Conn
	stop func() bool
}

func (c *ctxConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// connect opens a session: TLS from the start for smtps, else STARTTLS when the server
// offers it, else (unless TLS is required) plain.
func (s *SMTP) connect(ctx context.Context) (*smtp.Client, bool, error) {
	conn, err := s.dial(ctx)
	if err != nil {
		return nil, false, err
	}
	if s.implicit {
		c := smtp.NewClient(tls.Client(conn, s.tls))
		return c, true, c.Hello("localhost")
	}
	c, err := smtp.NewClientStartTLS(conn, s.tls)
	if err == nil {
		return c, true, nil
	}
	if !strings.Contains(err.Error(), "doesn't support STARTTLS") {
		return nil, false, fmt.Errorf("starttls: %w", err)
	}
	if s.requireTLS {
		return nil, false, fmt.Errorf("connect to %s: %w", s.addr, ErrNoSTARTTLS)
	}
	if conn, err = s.dial(ctx); err != nil {
		return nil, false, err
	}
	c = smtp.NewClient(conn)
	return c, false, c.Hello("localhost")
}

func (s *SMTP) loopback() bool {
	host, _, _ := net.SplitHostPort(s.addr)
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}
