package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

const shop = "https://shop.example"

func wsURL(h *harness, path string) string {
	return "ws" + strings.TrimPrefix(h.http.URL, "http") + path
}

func dialWS(t *testing.T, url string, hdr http.Header) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial %s: %v (%d)", url, err, status)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn
}

// agentInbox logs an agent in and opens their live inbox: the agent is online.
func agentInbox(t *testing.T, h *harness) *websocket.Conn {
	t.Helper()
	return inboxOf(t, h, h.loggedIn(accounts.RoleAgent))
}

// inboxOf opens the live inbox of a logged-in client.
func inboxOf(t *testing.T, h *harness, agentClient *client) *websocket.Conn {
	t.Helper()
	hdr := http.Header{"Origin": {h.http.URL}}
	for _, ck := range agentClient.http.Jar.Cookies(mustURL(h.http.URL)) {
		hdr.Add("Cookie", ck.Name+"="+ck.Value)
	}
	return dialWS(t, wsURL(h, "/api/v1/chat/inbox"), hdr)
}

// readFrame returns the next frame that is not an inbox line update (tests of updates
// read them with readUpdate).
func readFrame(t *testing.T, conn *websocket.Conn) frame {
	t.Helper()
	for {
		if f := readAny(t, conn); f.Type != "conversation" {
			return f
		}
	}
}

// readUpdate returns the next inbox line update, skipping other frames.
func readUpdate(t *testing.T, conn *websocket.Conn) frame {
	t.Helper()
	for {
		if f := readAny(t, conn); f.Type == "conversation" {
			return f
		}
	}
}

func readAny(t *testing.T, conn *websocket.Conn) frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var f frame
	if err := wsjson.Read(ctx, conn, &f); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return f
}

func writeFrame(t *testing.T, conn *websocket.Conn, f frame) {
	t.Helper()
	if err := wsjson.Write(context.Background(), conn, f); err != nil {
		t.Fatal(err)
	}
}

// ackAndEcho reads the two frames a sender gets for one message, in either order: the
// acknowledgement and the message itself (every connection of the conversation gets it).
func ackAndEcho(t *testing.T, conn *websocket.Conn) (ack, msg frame) {
	t.Helper()
	for i := 0; i < 2; i++ {
		f := readFrame(t, conn)
		switch f.Type {
		case "ack":
			ack = f
		case "message":
			msg = f
		default:
			t.Fatalf("unexpected frame %+v", f)
		}
	}
	return ack, msg
}

// TestChatOverWebSockets: a visitor on an allowed website and an agent in the inbox talk
// both ways; the visitor drops off, misses messages, comes back and resumes: nothing is
// lost, nothing doubled, and a resent message lands once.
func TestChatOverWebSockets(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	admin := h.loggedIn(accounts.RoleAdmin)
	if r := admin.json("PUT", "/api/v1/settings/chat", map[string][]string{"origins": {shop + "/", "ftp://x"}}); r.status != 422 {
		t.Fatalf("bad origin accepted: %d", r.status)
	}
	if r := admin.json("PUT", "/api/v1/settings/chat", map[string][]string{"origins": {shop}}); r.status != 200 {
		t.Fatalf("set origins: %d %s", r.status, r.body)
	}
	visitor := h.client()
	if r := visitor.do("OPTIONS", "/api/v1/chat/conversations", "", nil, map[string]string{"Origin": shop}); r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != shop {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	if r := visitor.do("POST", "/api/v1/chat/conversations", "application/json", strings.NewReader(`{"name":"Rita"}`), map[string]string{"Origin": "https://evil.example"}); r.status != 403 {
		t.Fatalf("start from a foreign site: %d", r.status)
	}
	r := visitor.do("POST", "/api/v1/chat/conversations", "application/json", strings.NewReader(`{"name":"Rita"}`), map[string]string{"Origin": shop})
	if r.status != 201 || r.header.Get("Access-Control-Allow-Origin") != shop {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	var started struct {
		ConversationID int64  `json:"conversation_id"`
		Token          string `json:"token"`
	}
	r.decode(t, &started)

	if _, res, err := websocket.Dial(context.Background(), wsURL(h, "/api/v1/chat/ws?token="+started.Token), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}}); err == nil || res.StatusCode != 403 {
		t.Fatalf("socket from a foreign site: %v", err)
	}
	if _, res, err := websocket.Dial(context.Background(), wsURL(h, "/api/v1/chat/ws?token=wrong"), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {shop}}}); err == nil || res.StatusCode != 404 {
		t.Fatalf("socket with a wrong token: %v", err)
	}
	vws := dialWS(t, wsURL(h, "/api/v1/chat/ws?token="+started.Token), http.Header{"Origin": {shop}})
	aws := agentInbox(t, h)

	writeFrame(t, vws, frame{Type: "send", ClientID: "v1", Body: "Hallo <b>Team</b>"})
	if ack, echo := ackAndEcho(t, vws); ack.Seq != 1 || ack.ClientID != "v1" || echo.Seq != 1 {
		t.Fatalf("visitor ack %+v, echo %+v", ack, echo)
	}
	if m := readFrame(t, aws); m.Type != "message" || m.Seq != 1 || m.Body != "Hallo <b>Team</b>" || m.ConversationID != started.ConversationID {
		t.Fatalf("agent got %+v", m)
	}
	writeFrame(t, aws, frame{Type: "send", ConversationID: started.ConversationID, ClientID: "a1", Body: "Hallo Rita"})
	if ack, _ := ackAndEcho(t, aws); ack.Seq != 2 {
		t.Fatalf("agent ack %+v", ack)
	}
	if m := readFrame(t, vws); m.Seq != 2 || m.Author != "agent" || m.Body != "Hallo Rita" {
		t.Fatalf("visitor got %+v", m)
	}

	// The visitor drops off; two replies come meanwhile.
	vws.CloseNow()
	for i, body := range []string{"Sind Sie noch da?", "Ich warte."} {
		writeFrame(t, aws, frame{Type: "send", ConversationID: started.ConversationID, ClientID: "a" + string(rune('2'+i)), Body: body})
		ackAndEcho(t, aws)
	}
	vws2 := dialWS(t, wsURL(h, "/api/v1/chat/ws?token="+started.Token), http.Header{"Origin": {shop}})
	writeFrame(t, vws2, frame{Type: "resume", After: 2})
	for _, want := range []string{"Sind Sie noch da?", "Ich warte."} {
		if m := readFrame(t, vws2); m.Body != want {
			t.Fatalf("resume got %+v, want %q", m, want)
		}
	}
	// Its first message's ack was lost in the drop, say; the resend lands once.
	writeFrame(t, vws2, frame{Type: "send", ClientID: "v1", Body: "Hallo <b>Team</b>"})
	if ack := readFrame(t, vws2); ack.Type != "ack" || ack.Seq != 1 {
		t.Fatalf("resend ack %+v", ack)
	}
	writeFrame(t, vws2, frame{Type: "send", ClientID: "v2", Body: "Ja!"})
	if ack, echo := ackAndEcho(t, vws2); ack.Seq != 5 || echo.Seq != 5 {
		t.Fatalf("next ack %+v, echo %+v", ack, echo)
	}
	if m := readFrame(t, aws); m.Seq != 5 || m.Body != "Ja!" {
		t.Fatalf("after the resend the agent got %+v (a duplicate?)", m)
	}
	// Another visitor's token never reaches this conversation.
	_, other, _ := h.server.opts.Chat.Start(context.Background(), "Eve", "", shop)
	ows := dialWS(t, wsURL(h, "/api/v1/chat/ws?token="+other), http.Header{"Origin": {shop}})
	writeFrame(t, ows, frame{Type: "resume", After: 0, ConversationID: started.ConversationID})
	writeFrame(t, ows, frame{Type: "send", ClientID: "e1", Body: "hi", ConversationID: started.ConversationID})
	if ack, echo := ackAndEcho(t, ows); ack.ConversationID == started.ConversationID || echo.ConversationID == started.ConversationID {
		t.Fatalf("a visitor reached another conversation: %+v %+v", ack, echo)
	}
}

func TestChatIsUnavailableWhileReadOnly(t *testing.T) {
	h := newHarness(t, harnessOptions{readOnly: true}, true)
	vws := dialWS(t, wsURL(h, "/api/v1/chat/ws?token="+h.chatTok), nil)
	writeFrame(t, vws, frame{Type: "send", ClientID: "x", Body: "hello"})
	if f := readFrame(t, vws); f.Type != "error" || !strings.Contains(f.Detail, "read-only") {
		t.Fatalf("send while read-only: %+v", f)
	}
	if r := h.client().json("POST", "/api/v1/chat/conversations", map[string]string{}); r.status != 423 {
		t.Fatalf("start while read-only: %d", r.status)
	}
}

// TestChatWidgetSettings: an admin sets the widget's colour and texts; a bad value is
// refused and changes nothing, origins included. The widget's config says whether an
// agent is online.
func TestChatWidgetSettings(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	admin := h.loggedIn(accounts.RoleAdmin)
	r := admin.json("PUT", "/api/v1/settings/chat", map[string]any{"origins": []string{"https://shop.example"}, "colour": "#AA0000", "greeting": " Moin! "})
	if r.status != 200 {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	want := `{"origins":["https://shop.example"],"colour":"#aa0000","greeting":"Moin!","offline_text":""}`
	if got := admin.get("/api/v1/settings/chat"); got.status != 200 || strings.TrimSpace(got.body) != want {
		t.Fatalf("GET: %d %s, want %s", got.status, got.body, want)
	}
	for _, bad := range []map[string]any{
		{"origins": []string{"https://other.example"}, "colour": "red"},
		{"origins": []string{"https://other.example"}, "greeting": strings.Repeat("x", 501)},
		{"colour": "#aa0000", "origins": []string{"javascript:alert(1)"}},
	} {
		r := admin.json("PUT", "/api/v1/settings/chat", bad)
		if r.status != 422 || r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("PUT %v: %d %s", bad, r.status, r.body)
		}
		if got := admin.get("/api/v1/settings/chat"); strings.TrimSpace(got.body) != want {
			t.Errorf("after refused %v: %s", bad, got.body)
		}
	}
	if r := h.loggedIn(accounts.RoleAgent).json("PUT", "/api/v1/settings/chat", map[string]any{"colour": "#000000"}); r.status != 403 {
		t.Errorf("an agent changed the widget: %d", r.status)
	}

	config := func() (c struct {
		Colour   string `json:"colour"`
		Greeting string `json:"greeting"`
		Online   bool   `json:"online"`
		ReadOnly bool   `json:"read_only"`
	}) {
		r := h.client().do("GET", "/api/v1/chat/config", "", nil, map[string]string{"Origin": "https://shop.example"})
		if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
			t.Fatalf("config: %d %s %v", r.status, r.body, r.header)
		}
		r.decode(t, &c)
		return c
	}
	if c := config(); c.Online || c.Colour != "#aa0000" || c.Greeting != "Moin!" || c.ReadOnly {
		t.Errorf("config with nobody online: %+v", c)
	}
	conn := agentInbox(t, h)
	if c := config(); !c.Online {
		t.Errorf("config with an agent online: %+v", c)
	}
	conn.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(5 * time.Second)
	for config().Online && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // the server notices the close asynchronously
	}
	if config().Online {
		t.Error("the agent left but the widget still says online")
	}
	if r := h.client().do("GET", "/api/v1/chat/config", "", nil, map[string]string{"Origin": "https://evil.example"}); r.status != 403 {
		t.Errorf("config for an unlisted origin: %d", r.status)
	}
}

// TestChatTyping: typing shows on the other side of the conversation only: not to the
// typist, not to another visitor, and it is never stored.
func TestChatTyping(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	ctx := context.Background()
	if _, err := h.server.opts.Chat.SetOrigins(ctx, h.server.opts.Settings, []string{shop}); err != nil {
		t.Fatal(err)
	}
	conv, token, err := h.server.opts.Chat.Start(ctx, "Rita", "", shop)
	if err != nil {
		t.Fatal(err)
	}
	_, otherToken, _ := h.server.opts.Chat.Start(ctx, "Eve", "", shop)
	origin := http.Header{"Origin": {shop}}
	vws := dialWS(t, wsURL(h, "/api/v1/chat/ws?token="+token), origin)
	ows := dialWS(t, wsURL(h, "/api/v1/chat/ws?token="+otherToken), origin)
	aws := agentInbox(t, h)
	before := h.counts()

	writeFrame(t, vws, frame{Type: "typing", On: true})
	if f := readFrame(t, aws); f.Type != "typing" || f.ConversationID != conv.ID || f.Author != "visitor" || !f.On {
		t.Fatalf("the agent got %+v, want the visitor typing", f)
	}
	writeFrame(t, aws, frame{Type: "typing", ConversationID: conv.ID, On: true})
	if f := readFrame(t, vws); f.Type != "typing" || f.Author != "agent" || !f.On {
		t.Fatalf("the visitor got %+v, want the agent typing", f)
	}
	writeFrame(t, aws, frame{Type: "typing", ConversationID: conv.ID})
	if f := readFrame(t, vws); f.Type != "typing" || f.On {
		t.Fatalf("the visitor got %+v, want the agent stopped", f)
	}
	if after := h.counts(); after["chat_messages"] != before["chat_messages"] {
		t.Errorf("typing was stored: %v → %v", before, after)
	}
	// The next frame each visitor reads belongs to their own message: neither saw their
	// own typing, and Eve never saw Rita's conversation.
	for _, c := range []*websocket.Conn{vws, ows} {
		writeFrame(t, c, frame{Type: "send", ClientID: "m1", Body: "hi"})
		ackAndEcho(t, c)
	}
}
