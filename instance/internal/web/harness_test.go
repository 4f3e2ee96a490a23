package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"log/slog"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/booking"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/kb"
	"github.com/sproudstack/sproudchat/instance/internal/notify"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/platform/problem"
	"github.com/sproudstack/sproudchat/platform/testkit/logbuf"
)

const (
	testSetupToken = "setup-token-for-tests-0123456789"
	adminPassword  = "admin password 42"
)

var testHash = accounts.HashParams{MemoryKiB: 256, Time: 1, Threads: 1}

type harness struct {
	t        *testing.T
	blobDir  string
	mailer   *notify.Mailer
	db       *store.DB
	svc      *accounts.Service
	server   *Server
	http     *httptest.Server
	clock    *clock.Fake
	logs     *logbuf.Buffer
	users    map[accounts.Role]accounts.User
	ticket   tickets.Ticket     // one ticket, for routes that read one
	attach   tickets.Attachment // one file on it
	cat      kb.Category        // one help category
	article  kb.Article         // one published article in it
	chatTok  string             // a visitor's chat token
	chatConv int64              // and their conversation
	chatFile int64              // a file sent in it
	target   int64              // a notification target
	bookType booking.Type       // an appointment type the agent offers
	booking  booking.Booking    // a booking of it
	bookTok  string             // and its visitor's token
	dayOff   int64              // a holiday
}

type harnessOptions struct {
	dialect        store.Dialect
	readOnly       bool
	hash           accounts.HashParams
	gate           accounts.GateOptions
	publicBodies   int    // Options.PublicBodiesAtOnce
	visitorSockets int    // Options.MaxVisitorSockets
	baseURL        string // Options.BaseURL; default http://127.0.0.1
}

// newHarness starts the real web server over a real database, with one user per role
// (the admin through setup) unless setup is to be left pending.
func newHarness(t *testing.T, o harnessOptions, withUsers bool) *harness {
	t.Helper()
	if o.dialect == "" {
		o.dialect = store.SQLite
	}
	if o.hash == (accounts.HashParams{}) {
		o.hash = testHash
	}
	db := storetest.MustOpen(t, o.dialect)
	clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	svc, err := accounts.NewService(store.NewAccounts(db), accounts.Options{Clock: clk, SecretKey: bytes.Repeat([]byte{7}, 32), SetupToken: testSetupToken, Hash: o.hash, Gate: o.gate})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logbuf.Buffer{}
	if o.baseURL == "" {
		o.baseURL = "http://127.0.0.1"
	}
	base, _ := url.Parse(o.baseURL)
	tsvc := tickets.NewService(store.NewTickets(db), clk)
	blobDir := filepath.Join(t.TempDir(), "attachments")
	blobs := store.NewBlobs(blobDir)
	atts := tickets.NewAttachments(tsvc, store.NewTickets(db), blobs, tickets.Limits{MaxFile: 64 << 10, Quota: 160 << 10})
	mailer := notify.NewMailer(store.NewOutbox(db), nil, mail.Address{Address: "support@acme.example"}, clk, nil)
	confirm := notify.NewTicketMail(mailer, svc, "http://127.0.0.1", nil)
	seal, err := notify.NewSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	hooks := notify.NewHooks(store.NewHooks(db), seal, mailer, svc, notify.HookOptions{Clock: clk, BaseURL: base.String(), AllowLoopback: true})
	tsvc.SetNotifier(tickets.Notifiers{confirm, notify.TicketEvents{Hooks: hooks}}, nil)
	bookMail := &notify.BookingMail{Mailer: mailer, Hooks: hooks, Clock: clk.Now}
	bk := booking.NewService(store.NewBooking(db), store.NewSettings(db), booking.Options{Clock: clk, SecretKey: []byte(strings.Repeat("b", 32)),
		BaseURL: base.String(), Events: bookMail})
	bookMail.Location = bk.Location
	confirm.Location = bk.Location
	srv, err := New(Options{Hooks: hooks, Booking: bk, Accounts: svc, Tickets: tsvc, Attachments: atts, Blobs: blobs, Confirm: confirm, Transcripts: confirm, KB: kb.NewService(store.NewKB(db), clk), Outbox: mailer,
		Chat: chat.NewService(store.NewChat(db), chat.NewHub(), chat.Options{Clock: clk, Files: atts, Events: hooks}), Settings: store.NewSettings(db), Health: readyFunc(func(context.Context) error { return nil }), Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Clock: clk, BaseURL: base, ReadOnly: o.readOnly, ReadOnlyUntil: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC), Version: "test",
		PublicBodiesAtOnce: o.publicBodies, MaxVisitorSockets: o.visitorSockets})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := serve(t, ln, srv)
	h := &harness{t: t, blobDir: blobDir, mailer: mailer, db: db, svc: svc, server: srv, http: ts, clock: clk, logs: logs, users: map[accounts.Role]accounts.User{}}
	if withUsers {
		h.addUsers()
	}
	return h
}

type readyFunc func(context.Context) error

// connTracker remembers every connection a test server accepted, hijacked WebSockets
// included, so a restart can cut them all as a process exit would.
type connTracker struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *connTracker) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *connTracker) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

func serve(t *testing.T, ln net.Listener, srv *Server) *httptest.Server {
	ts := &httptest.Server{Listener: &connTracker{Listener: ln}, Config: &http.Server{Handler: srv.Handler()}}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

// restart stops the server as a crash would (every connection cut, everything in
// memory gone) and starts a new one on the same address over the same database.
func (h *harness) restart() {
	h.t.Helper()
	addr := h.http.Listener.Addr().String()
	h.http.Listener.(*connTracker).cut()
	h.http.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		h.t.Fatalf("listen again on %s: %v", addr, err)
	}
	o := h.server.opts
	o.Chat = chat.NewService(store.NewChat(h.db), chat.NewHub(), chat.Options{Clock: h.clock, Files: o.Attachments, Events: o.Hooks})
	srv, err := New(o)
	if err != nil {
		h.t.Fatal(err)
	}
	h.server, h.http = srv, serve(h.t, ln, srv)
}

func (f readyFunc) Ready(ctx context.Context) error { return f(ctx) }

func (h *harness) addUsers() {
	h.t.Helper()
	ctx := context.Background()
	admin, err := h.svc.Setup(ctx, accounts.SetupInput{Token: testSetupToken, Name: "Ada Admin", Email: "admin@example.org", Password: adminPassword}, accounts.Meta{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.users[accounts.RoleAdmin] = admin
	for _, r := range accounts.Roles[1:] {
		u, err := h.svc.CreateUser(ctx, accounts.Principal{User: admin}, accounts.NewUserInput{
			Name: string(r) + " user", Email: string(r) + "@example.org", Password: string(r) + " password 42", Role: r}, accounts.Meta{})
		if err != nil {
			h.t.Fatal(err)
		}
		h.users[r] = u
	}
	t, err := h.server.opts.Tickets.Create(ctx, nil, tickets.NewTicket{Subject: "Walk ticket", RequesterEmail: "walker@example.org", Body: "hello"})
	if err != nil {
		h.t.Fatal(err)
	}
	h.ticket = t
	if h.attach, err = h.server.opts.Attachments.Attach(ctx, accounts.Principal{User: admin}, t.ID, "walk.txt", strings.NewReader("walk")); err != nil {
		h.t.Fatal(err)
	}
	if h.cat, err = h.server.opts.KB.NewCategory(ctx, "Billing", "Invoices and refunds"); err != nil {
		h.t.Fatal(err)
	}
	if h.article, err = h.server.opts.KB.Save(ctx, accounts.Principal{User: admin}, 0, kb.Input{Title: "Refunds", Body: "How **refunds** work.",
		Language: "en", CategoryID: &h.cat.ID, Publish: true}); err != nil {
		h.t.Fatal(err)
	}
	conv, tok, err := h.server.opts.Chat.Start(ctx, "Walker", "walker@example.org", "")
	if err != nil {
		h.t.Fatal(err)
	}
	h.chatTok, h.chatConv = tok, conv.ID
	other, _, err := h.server.opts.Chat.Start(ctx, "Filer", "", "")
	if err != nil {
		h.t.Fatal(err)
	}
	m, err := h.server.opts.Chat.Attach(ctx, chat.Message{ConversationID: other.ID, Author: chat.Visitor}, "walk.txt", strings.NewReader("walk"))
	if err != nil {
		h.t.Fatal(err)
	}
	h.chatFile = m.Attachment.ID
	tg, _, err := h.server.opts.Hooks.CreateTarget(ctx, notify.TargetInput{Kind: notify.KindWebhook, URL: "http://127.0.0.1:9/walk", Events: []string{notify.EventTicketNew}})
	if err != nil {
		h.t.Fatal(err)
	}
	h.target = tg.ID
	h.addBooking(ctx)
}

// addBooking gives the agent weekday hours 09:00–17:00, a 30-minute appointment type
// and one booking of it.
func (h *harness) addBooking(ctx context.Context) {
	h.t.Helper()
	bk := h.server.opts.Booking
	agent := h.users[accounts.RoleAgent].ID
	var hours []booking.Hours
	for d := time.Monday; d <= time.Friday; d++ {
		hours = append(hours, booking.Hours{Weekday: d, Start: 9 * 60, End: 17 * 60})
	}
	if err := bk.SetHours(ctx, agent, hours); err != nil {
		h.t.Fatal(err)
	}
	t, err := bk.SaveType(ctx, booking.Type{Name: "Erstgespräch", Slug: "erstgespraech", DurationMinutes: 30, HorizonDays: 60, AgentIDs: []int64{agent}, Active: true})
	if err != nil {
		h.t.Fatal(err)
	}
	h.bookType = t
	// Wednesday 4 November 2026, 10:00 in Berlin.
	b, _, err := bk.Book(ctx, t, booking.Request{Start: time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC), Name: "Walker", Email: "walker@example.org", Consent: true})
	if err != nil {
		h.t.Fatal(err)
	}
	h.booking, h.bookTok = b, bk.Token(b)
	d, err := bk.AddDayOff(ctx, nil, "2026-12-24", "Heiligabend")
	if err != nil {
		h.t.Fatal(err)
	}
	h.dayOff = d.ID
}

func passwordOf(r accounts.Role) string {
	if r == accounts.RoleAdmin {
		return adminPassword
	}
	return string(r) + " password 42"
}

// client is a browser-like caller with its own cookie jar.
type client struct {
	h      *harness
	http   *http.Client
	csrf   string
	bearer string
}

func (h *harness) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{h: h, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// loggedIn returns a client with a session of the user of role r.
func (h *harness) loggedIn(r accounts.Role) *client {
	h.t.Helper()
	c := h.client()
	c.login(h.users[r].Email, passwordOf(r))
	return c
}

func (c *client) login(email, password string) {
	c.h.t.Helper()
	res := c.json("POST", "/api/v1/session", map[string]string{"email": email, "password": password})
	if res.status != 200 {
		c.h.t.Fatalf("login %s: %d %s", email, res.status, res.body)
	}
	var s struct {
		CSRFToken string `json:"csrf_token"`
	}
	res.decode(c.h.t, &s)
	c.csrf = s.CSRFToken
}

type response struct {
	status int
	header http.Header
	body   string
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

func (r response) problem(t *testing.T) problem.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json (status %d, body %s)", ct, r.status, r.body)
	}
	var p problem.Problem
	r.decode(t, &p)
	if p.Status != r.status || p.Title == "" || p.Type == "" {
		t.Fatalf("malformed problem %+v for status %d", p, r.status)
	}
	return p
}

// do sends a request; the CSRF token and bearer token go along when the client has them.
func (c *client) do(method, path, contentType string, body io.Reader, hdr map[string]string) response {
	c.h.t.Helper()
	req, err := http.NewRequest(method, c.h.http.URL+path, body)
	if err != nil {
		c.h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.csrf != "" {
		req.Header.Set(csrfHeader, c.csrf)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (c *client) json(method, path string, v any) response {
	c.h.t.Helper()
	var body io.Reader
	ct := ""
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			c.h.t.Fatal(err)
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	return c.do(method, path, ct, body, nil)
}

func (c *client) form(path string, vals url.Values) response {
	c.h.t.Helper()
	if c.csrf != "" && vals.Get(csrfField) == "" {
		vals.Set(csrfField, c.csrf)
	}
	return c.do("POST", path, "application/x-www-form-urlencoded", strings.NewReader(vals.Encode()), map[string]string{csrfHeader: ""})
}

func (c *client) get(path string) response { return c.do("GET", path, "", nil, nil) }

// counts returns the number of rows of every content table, to prove a refused
// request wrote nothing.
func (h *harness) counts() map[string]int64 {
	h.t.Helper()
	out := map[string]int64{}
	for _, table := range []string{"users", "api_tokens", "audit_log", "meta", "sessions", "tickets", "ticket_messages", "ticket_history", "ticket_tags", "attachments", "kb_categories", "kb_articles", "chat_conversations", "chat_messages", "chat_attachments", "chat_agents", "chat_canned", "notify_targets", "notify_deliveries", "notify_attempts"} {
		var n int64
		if err := h.db.Gorm().Table(table).Count(&n).Error; err != nil {
			h.t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

// waitFor polls cond until it holds, for what happens in another goroutine (a
// connection closing), failing after a few seconds.
func (h *harness) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
