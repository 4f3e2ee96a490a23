package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/emersion/go-smtp"

	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/platform/testkit/poll"
)

// heldSMTP is an SMTP server in the test process that keeps the first message's data
// waiting until released: a mail in the middle of being sent.
type heldSMTP struct {
	addr     string
	entered  chan struct{} // closed when the first message's data starts
	release  chan struct{}
	once     sync.Once
	mu       sync.Mutex
	messages [][]byte
}

func startHeldSMTP(t *testing.T) *heldSMTP {
	t.Helper()
	h := &heldSMTP{entered: make(chan struct{}), release: make(chan struct{})}
	srv := smtp.NewServer(h)
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(ln) }()
	t.Cleanup(func() {
		h.let()
		srv.Close()
		ln.Close()
		<-served
	})
	return h
}

// let lets the held message through.
func (h *heldSMTP) let() { h.once.Do(func() { close(h.release) }) }

func (h *heldSMTP) NewSession(*smtp.Conn) (smtp.Session, error) { return &heldSession{h: h}, nil }

func (h *heldSMTP) received() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.messages)
}

type heldSession struct{ h *heldSMTP }

func (s *heldSession) AuthMechanisms() []string             { return nil }
func (s *heldSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *heldSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *heldSession) Reset()                               {}
func (s *heldSession) Logout() error                        { return nil }
func (s *heldSession) Data(r io.Reader) error {
	s.h.mu.Lock()
	first := len(s.h.messages) == 0
	s.h.mu.Unlock()
	if first {
		close(s.h.entered)
		<-s.h.release
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.h.mu.Lock()
	s.h.messages = append(s.h.messages, b)
	s.h.mu.Unlock()
	return nil
}

// logEntries parses the JSON log.
func logEntries(t *testing.T, stdout string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		out = append(out, e)
	}
	return out
}

// waitForLog waits until the process has logged a line with msg (and worker, if
// given); it fails the test if the process exits first.
func (p *proc) waitForLog(t *testing.T, msg, worker string) {
	t.Helper()
	poll.Eventually(t, fmt.Sprintf("log line %q %s", msg, worker), func() bool { return p.logged(t, msg, worker) })
}

func (p *proc) logged(t *testing.T, msg, worker string) bool {
	t.Helper()
	stdout, _ := p.output()
	for _, e := range logEntries(t, stdout[:strings.LastIndex(stdout, "\n")+1]) {
		if e["msg"] == msg && (worker == "" || e["worker"] == worker) {
			return true
		}
	}
	return false
}

// TestSIGTERMStopsInOrder stops the real binary with SIGTERM while it has work in
// flight: a mail half handed to the SMTP server, a login request whose body is still
// arriving, and a visitor's chat connection. The request is answered, the chat gets a
// close frame asking it to come back (1012), the mail is handed over whole and recorded
// sent, every part logs "worker stopped" before "database closed", and the exit is 0.
func TestSIGTERMStopsInOrder(t *testing.T) {
	bin := binary(t)
	mailServer := startHeldSMTP(t)
	dataDir := t.TempDir()
	setupToken := "e2e-setup-token-0123456789abcdef"
	password := "e2e admin password"
	p := start(t, []string{"SPROUDCHAT_DATA_DIR=" + dataDir, "SPROUDCHAT_SECRET_KEY=" + testKey, "SPROUDCHAT_SETUP_TOKEN=" + setupToken,
		"SPROUDCHAT_SMTP_URL=smtp://" + mailServer.addr}, bin)
	c := newClient(t, p.base)
	if code, out := c.Call("POST", "/api/v1/setup", map[string]string{"token": setupToken, "name": "Ada", "email": "ada@example.org", "password": password}); code != 201 {
		t.Fatalf("setup: %d %v", code, out)
	}
	c.Login("ada@example.org", password)

	// A mail in flight: a new ticket is mailed to Ada; the server holds its data.
	if code, out := c.Call("POST", "/api/v1/tickets", map[string]string{"subject": "Refund", "requester_name": "Rita",
		"requester_email": "rita@example.org", "body": "Please refund March."}); code != 201 {
		t.Fatalf("create ticket: %d %v", code, out)
	}
	select {
	case <-mailServer.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the mailer did not start sending in 20s")
	}

	// A visitor's live chat.
	code, started := c.Call("POST", "/api/v1/chat/conversations", map[string]string{"name": "Lena"})
	if code != 201 {
		t.Fatalf("start chat: %d %v", code, started)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.base, "http")+"/api/v1/chat/ws?token="+started["token"].(string), nil)
	if err != nil {
		t.Fatalf("chat connection: %v", err)
	}
	defer ws.CloseNow()

	// A request in progress: a login whose handler has asked for the body (the server
	// answered "100 Continue"), which arrives only after SIGTERM.
	login := fmt.Sprintf(`{"email": "ada@example.org", "password": %q}`, password)
	req, err := net.Dial("tcp", strings.TrimPrefix(p.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer req.Close()
	fmt.Fprintf(req, "POST /api/v1/session HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		strings.TrimPrefix(p.base, "http://"), len(login))
	answers := bufio.NewReader(req)
	if res, err := http.ReadResponse(answers, nil); err != nil || res.StatusCode != http.StatusContinue {
		t.Fatalf("login before its body: %v %v, want 100 Continue", res, err)
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	p.waitForLog(t, "stopping", "")
	if p.logged(t, "worker stopped", "http") {
		t.Fatal("the server stopped with a request in progress")
	}
	if _, err := req.Write([]byte(login)); err != nil {
		t.Fatalf("the login's body after SIGTERM: %v", err)
	}
	if res, err := http.ReadResponse(answers, nil); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("the login in progress at SIGTERM: %v %v, want 200", res, err)
	}

	_, _, err = ws.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusServiceRestart {
		t.Errorf("the chat connection ended with %v (%d), want a close frame with 1012 (service restart)", err, got)
	}

	p.waitForLog(t, "worker stopped", "http")
	if p.logged(t, "worker stopped", "mailer") || p.logged(t, "database closed", "") {
		t.Fatal("the mailer stopped (or the database closed) with a mail half sent")
	}
	mailServer.let()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("sproudchat exited with %v after SIGTERM", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("sproudchat did not stop within 20s of SIGTERM")
	}

	if got := mailServer.received(); len(got) != 1 || !bytes.Contains(got[0], []byte("Please refund March.")) {
		t.Errorf("the SMTP server got %d messages, want the one in flight, whole", len(got))
	}
	db, err := store.Open(context.Background(), "", filepath.Join(dataDir, "sproudchat.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var statuses []string
	if err := db.Gorm().Raw("SELECT status FROM outbox ORDER BY id").Scan(&statuses).Error; err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(statuses, []string{"sent"}) {
		t.Errorf("outbox after the shutdown: %v, want the mail in flight recorded sent", statuses)
	}

	stdout, _ := p.output()
	var stopped []string
	closedAt := -1
	for i, e := range logEntries(t, stdout) {
		switch e["msg"] {
		case "worker stopped":
			if closedAt >= 0 {
				t.Errorf("worker %v stopped after the database closed", e["worker"])
			}
			stopped = append(stopped, e["worker"].(string))
		case "database closed":
			closedAt = i
		}
	}
	if closedAt < 0 {
		t.Error("no \"database closed\" in the log")
	}
	if len(stopped) == 0 || stopped[0] != "http" {
		t.Errorf("stopped in the order %v: the server drains first, the workers stop after it", stopped)
	}
	slices.Sort(stopped)
	// Every part Run starts.
	want := []string{"booking", "checkpoints", "http", "mailer", "notifications", "unanswered-chats"}
	if !slices.Equal(stopped, want) {
		t.Errorf("workers stopped: %v, want %v", stopped, want)
	}
}
