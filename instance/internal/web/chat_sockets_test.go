package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/web/livechat"
	"github.com/sproudstack/sproudchat/platform/problem"
)

// newChat starts a conversation and returns its visitor's token.
func (h *harness) newChat() string {
	h.t.Helper()
	_, tok, err := h.server.opts.Chat.Start(h.t.Context(), "Tabby", "", "")
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// dialVisitor opens a visitor connection with token from ip, as the edge router reports
// it; the connection is closed when the test ends. A refused one returns the answer.
func dialVisitor(t *testing.T, h *harness, token, ip string) (*websocket.Conn, response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, wsURL(h, "/api/v1/chat/ws?token="+token), &websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {ip}}})
	if err != nil {
		var r response
		if res != nil {
			b, _ := io.ReadAll(res.Body)
			r = response{status: res.StatusCode, header: res.Header, body: string(b)}
		}
		return nil, r, err
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn, response{status: res.StatusCode, header: res.Header}, nil
}

// mustDialVisitor is dialVisitor for a connection that must be accepted.
func mustDialVisitor(t *testing.T, h *harness, token, ip string) *websocket.Conn {
	t.Helper()
	conn, r, err := dialVisitor(t, h, token, ip)
	if err != nil {
		t.Fatalf("connect from %s: %v (%d %s)", ip, err, r.status, r.body)
	}
	return conn
}

// refused checks that a connection from ip is refused before the upgrade with status
// and a problem+json of type kind, with Retry-After.
func refused(t *testing.T, h *harness, token, ip string, status int, kind string) {
	t.Helper()
	conn, r, err := dialVisitor(t, h, token, ip)
	if err == nil {
		conn.CloseNow()
		t.Fatalf("connection from %s accepted, want %d", ip, status)
	}
	if r.status != status {
		t.Fatalf("connection from %s: %d %s, want %d", ip, r.status, r.body, status)
	}
	if p := r.problem(t); p.Type != problem.Base+kind {
		t.Fatalf("connection from %s: problem type %q, want %s", ip, p.Type, kind)
	}
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 {
		t.Fatalf("connection from %s: Retry-After %q", ip, r.header.Get("Retry-After"))
	}
}

// closedWith waits for conn to be closed by the server and returns the close code.
func closedWith(t *testing.T, conn *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := conn.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("the connection is still open")
			}
			return websocket.CloseStatus(err)
		}
	}
}

// isOpen tells whether conn still carries messages: one sent (to conv, for an agent)
// is acknowledged.
func isOpen(t *testing.T, conn *websocket.Conn, conv int64, id string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, conn, frame{Type: "send", ConversationID: conv, ClientID: id, Body: "still here?"}); err != nil {
		return false
	}
	for {
		var f frame
		if err := wsjson.Read(ctx, conn, &f); err != nil {
			return false
		}
		if f.Type == "ack" && f.ClientID == id {
			return true
		}
	}
}

// TestVisitorTabsBeyondFiveReplaceTheOldest: a sixth connection of one chat is
// accepted and the chat's oldest is closed with livechat.CloseReplaced; the other five go on.
func TestVisitorTabsBeyondFiveReplaceTheOldest(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	tok := h.newChat()
	var tabs []*websocket.Conn
	for range livechat.VisitorsPerChat + 1 {
		tabs = append(tabs, mustDialVisitor(t, h, tok, "198.51.100.30"))
	}
	if code := closedWith(t, tabs[0]); code != livechat.CloseReplaced {
		t.Fatalf("the oldest tab was closed with %d, want %d", code, livechat.CloseReplaced)
	}
	for i, tab := range tabs[1:] {
		if !isOpen(t, tab, 0, fmt.Sprintf("tab-%d", i+1)) {
			t.Fatalf("tab %d was closed too", i+1)
		}
	}
	// Another replacement goes on from the next oldest, and the replaced ones are not
	// counted: the address still has room for others.
	tabs = append(tabs, mustDialVisitor(t, h, tok, "198.51.100.30"))
	if code := closedWith(t, tabs[1]); code != livechat.CloseReplaced {
		t.Fatalf("the next oldest tab was closed with %d, want %d", code, livechat.CloseReplaced)
	}
	for range livechat.VisitorsPerAddress - livechat.VisitorsPerChat {
		mustDialVisitor(t, h, h.newChat(), "198.51.100.30")
	}
	refused(t, h, h.newChat(), "198.51.100.30", http.StatusTooManyRequests, "too-many-connections")
}

// TestVisitorSocketsPerAddress: one address (an IPv6 /64) holds at most
// livechat.VisitorsPerAddress visitor connections, whatever chats they are for; past that
// the upgrade is refused with 429 problem+json. A visitor's new tab still replaces their
// oldest; another address is not affected; a closed connection is given back.
func TestVisitorSocketsPerAddress(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	chats := livechat.VisitorsPerAddress / livechat.VisitorsPerChat
	tokens := make([]string, chats+1)
	for i := range tokens {
		tokens[i] = h.newChat()
	}
	var conns []*websocket.Conn
	for i := range livechat.VisitorsPerAddress {
		conns = append(conns, mustDialVisitor(t, h, tokens[i%chats], fmt.Sprintf("2001:db8:20::%x", i+1)))
	}
	refused(t, h, tokens[chats], "2001:db8:20::ffff", http.StatusTooManyRequests, "too-many-connections")
	refused(t, h, tokens[chats], "2001:db8:20:0:1:2:3:4", http.StatusTooManyRequests, "too-many-connections")
	mustDialVisitor(t, h, tokens[chats], "2001:db8:21::1")
	mustDialVisitor(t, h, tokens[chats], "198.51.100.31")
	// A sixth tab of a chat from the full address replaces its oldest.
	mustDialVisitor(t, h, tokens[0], "2001:db8:20::abc")
	if code := closedWith(t, conns[0]); code != livechat.CloseReplaced {
		t.Fatalf("the chat's oldest connection was closed with %d, want %d", code, livechat.CloseReplaced)
	}
	refused(t, h, tokens[chats], "2001:db8:20::ffff", http.StatusTooManyRequests, "too-many-connections")

	// Closing gives the count back: as many new ones as were closed get in (each once
	// the server has seen its close), and not one more.
	for _, c := range conns[1:6] {
		c.Close(websocket.StatusNormalClosure, "")
	}
	for i := range 5 {
		h.waitFor(t, fmt.Sprintf("closed connection %d to be given back", i+1), func() bool {
			_, _, err := dialVisitor(t, h, h.newChat(), "2001:db8:20::ffff")
			return err == nil
		})
	}
	refused(t, h, tokens[chats], "2001:db8:20::ffff", http.StatusTooManyRequests, "too-many-connections")
}

// TestVisitorSocketsOfTheInstance: past the instance's limit every further visitor
// connection is refused with 503 problem+json, from any address, until one closes;
// agents still connect.
func TestVisitorSocketsOfTheInstance(t *testing.T) {
	h := newHarness(t, harnessOptions{visitorSockets: 3}, true)
	var conns []*websocket.Conn
	for i := range 3 {
		conns = append(conns, mustDialVisitor(t, h, h.newChat(), fmt.Sprintf("198.51.100.%d", 40+i)))
	}
	tok := h.newChat()
	refused(t, h, tok, "198.51.100.50", http.StatusServiceUnavailable, "busy")
	agentInbox(t, h)
	conns[1].Close(websocket.StatusNormalClosure, "")
	h.waitFor(t, "the closed connection to be given back", func() bool {
		conn, _, err := dialVisitor(t, h, tok, "198.51.100.50")
		if err == nil {
			conns = append(conns, conn)
		}
		return err == nil
	})
	refused(t, h, h.newChat(), "198.51.100.51", http.StatusServiceUnavailable, "busy")
	if strings.Contains(h.logs.String(), "request failed") {
		t.Error("a refused connection was logged as a failure")
	}
}

// TestAgentInboxTabsBeyondTenReplaceTheOldest: an agent's connections are bounded the
// same way: the eleventh replaces the oldest, and the agent stays online.
func TestAgentInboxTabsBeyondTenReplaceTheOldest(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	agent := h.loggedIn(accounts.RoleAgent)
	var tabs []*websocket.Conn
	for range livechat.AgentTabs + 1 {
		tabs = append(tabs, inboxOf(t, h, agent))
	}
	if code := closedWith(t, tabs[0]); code != livechat.CloseReplaced {
		t.Fatalf("the oldest inbox was closed with %d, want %d", code, livechat.CloseReplaced)
	}
	for i, tab := range tabs[1:] {
		if !isOpen(t, tab, h.chatConv, fmt.Sprintf("inbox-%d", i+1)) {
			t.Fatalf("inbox %d was closed too", i+1)
		}
	}
	if online := h.server.opts.Chat.Hub().ConnectedAgents(); len(online) != 1 || online[0] != h.users[accounts.RoleAgent].ID {
		t.Fatalf("connected agents %v", online)
	}
}

// TestVisitorSocketsFollowTheMemoryLimit: the instance's limit of visitor connections
// is sized from the Go runtime's memory limit, which main sets from the container's.
func TestVisitorSocketsFollowTheMemoryLimit(t *testing.T) {
	starter := int64(128 << 20 * 9 / 10)
	old := debug.SetMemoryLimit(starter)
	srv, err := New(Options{})
	debug.SetMemoryLimit(old)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.MaxVisitorSockets(); got != 589 {
		t.Errorf("a server under a limit of %d bytes holds %d visitor connections, want 589", starter, got)
	}
}
