package web

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
)

func conversationOf(t *testing.T, c *client, id int64) (conversationJSON, []frame) {
	t.Helper()
	r := c.get(fmt.Sprintf("/api/v1/chat/conversations/%d", id))
	if r.status != 200 {
		t.Fatalf("conversation %d: %d %s", id, r.status, r.body)
	}
	var out struct {
		Conversation conversationJSON
		Messages     []frame
	}
	r.decode(t, &out)
	return out.Conversation, out.Messages
}

func visitorWS(t *testing.T, h *harness, token string) *websocket.Conn {
	t.Helper()
	return dialWS(t, wsURL(h, "/api/v1/chat/ws?token="+token), nil)
}

// TestChatNotesStayWithTheTeam: an internal note reaches every agent and never the
// visitor, neither live nor on resuming, nor in the transcript or the ticket.
func TestChatNotesStayWithTheTeam(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	agent := h.loggedIn(accounts.RoleAgent)
	aws := inboxOf(t, h, agent)
	vws := visitorWS(t, h, h.chatTok)
	writeFrame(t, aws, frame{Type: "send", ConversationID: h.chatConv, ClientID: "n1", Body: "Stammkunde, <b>bitte</b> bevorzugt", Internal: true})
	ack, msg := ackAndEcho(t, aws)
	if ack.Seq == 0 || !msg.Internal || msg.Body != "Stammkunde, <b>bitte</b> bevorzugt" {
		t.Fatalf("note: ack %+v, message %+v", ack, msg)
	}
	writeFrame(t, aws, frame{Type: "send", ConversationID: h.chatConv, ClientID: "a1", Body: "Guten Tag!"})
	ackAndEcho(t, aws)
	// The visitor's next frame is the public answer: the note was never sent.
	if f := readFrame(t, vws); f.Type != "message" || f.Body != "Guten Tag!" || f.Internal {
		t.Fatalf("the visitor got %+v", f)
	}
	// Nor does it come back on resuming from the start.
	vws2 := visitorWS(t, h, h.chatTok)
	writeFrame(t, vws2, frame{Type: "resume"})
	if f := readFrame(t, vws2); f.Body != "Guten Tag!" {
		t.Fatalf("resuming, the visitor got %+v", f)
	}
	// A visitor cannot write a note: their message is an ordinary one.
	writeFrame(t, vws2, frame{Type: "send", ClientID: "v1", Body: "Danke", Internal: true})
	if _, m := ackAndEcho(t, vws2); m.Internal {
		t.Fatalf("a visitor wrote a note: %+v", m)
	}
	_, msgs := conversationOf(t, agent, h.chatConv)
	if len(msgs) != 3 || !msgs[0].Internal || msgs[1].Internal || msgs[2].Internal {
		t.Fatalf("the agent sees %+v", msgs)
	}
	r := agent.json("POST", fmt.Sprintf("/api/v1/chat/conversations/%d/ticket", h.chatConv), nil)
	if r.status != 201 {
		t.Fatalf("to ticket: %d %s", r.status, r.body)
	}
	var tk ticketJSON
	r.decode(t, &tk)
	var full struct{ Messages []messageJSON }
	agent.get(fmt.Sprintf("/api/v1/tickets/%d", tk.ID)).decode(t, &full)
	if len(full.Messages) != 1 || strings.Contains(full.Messages[0].Body, "Stammkunde") || !strings.Contains(full.Messages[0].Body, "Guten Tag!") {
		t.Fatalf("the ticket holds %+v", full.Messages)
	}
}

func assign(c *client, conv int64, userID any) response {
	return c.json("POST", fmt.Sprintf("/api/v1/chat/conversations/%d/assign", conv), map[string]any{"user_id": userID})
}

// TestChatClaimAndTransfer: an agent takes a conversation, hands it to a colleague and
// back to the queue; every inbox sees each change, the team a note of it, the visitor
// nothing. Someone who cannot answer chats cannot be given one.
func TestChatClaimAndTransfer(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	agent := h.loggedIn(accounts.RoleAgent)
	lead := h.loggedIn(accounts.RoleSupervisor)
	leadWS := inboxOf(t, h, lead)
	agentID, leadID := h.users[accounts.RoleAgent].ID, h.users[accounts.RoleSupervisor].ID

	r := assign(agent, h.chatConv, agentID)
	var cj conversationJSON
	r.decode(t, &cj)
	if r.status != 200 || cj.AssigneeID == nil || *cj.AssigneeID != agentID {
		t.Fatalf("claim: %d %s", r.status, r.body)
	}
	if u := readUpdate(t, leadWS); u.Conversation == nil || u.Conversation.AssigneeID == nil || *u.Conversation.AssigneeID != agentID {
		t.Fatalf("the other inbox got %+v", u)
	}
	if r := assign(agent, h.chatConv, leadID); r.status != 200 || !strings.Contains(r.body, fmt.Sprintf(`"assignee_id":%d`, leadID)) {
		t.Fatalf("transfer: %d %s", r.status, r.body)
	}
	before := h.counts()
	for _, bad := range []any{h.users[accounts.RoleViewer].ID, 999999, "x"} {
		r := assign(agent, h.chatConv, bad)
		if r.status != 422 && r.status != 400 {
			t.Fatalf("assign to %v: %d %s", bad, r.status, r.body)
		}
		r.problem(t)
	}
	if r := assign(agent, 999999, agentID); r.status != 404 {
		t.Fatalf("assign a missing conversation: %d", r.status)
	}
	if after := h.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("refused assignments wrote: %v → %v", before, after)
	}
	if conv, _ := conversationOf(t, agent, h.chatConv); conv.AssigneeID == nil || *conv.AssigneeID != leadID {
		t.Fatalf("a refused assignment changed the assignee: %+v", conv)
	}
	if r := assign(lead, h.chatConv, nil); r.status != 200 || !strings.Contains(r.body, `"assignee_id":null`) {
		t.Fatalf("back to the queue: %d %s", r.status, r.body)
	}
	_, msgs := conversationOf(t, agent, h.chatConv)
	var notes []string
	for _, m := range msgs {
		if !m.Internal || m.Author != "system" {
			t.Fatalf("an assignment left a message the visitor sees: %+v", m)
		}
		notes = append(notes, m.Body)
	}
	agentName, leadName := h.users[accounts.RoleAgent].Name, h.users[accounts.RoleSupervisor].Name
	want := []string{agentName + " took the conversation.", agentName + " assigned the conversation to " + leadName + ".", leadName + " put the conversation back in the queue."}
	if fmt.Sprint(notes) != fmt.Sprint(want) {
		t.Fatalf("notes %q, want %q", notes, want)
	}
}

// TestChatUnreadCounts: the visitor's messages count as unread until an agent has read
// them; marking read never goes past the last message nor backwards.
func TestChatUnreadCounts(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	ctx := context.Background()
	agent := h.loggedIn(accounts.RoleAgent)
	aws := inboxOf(t, h, agent)
	for _, body := range []string{"Hallo?", "Ist jemand da?"} {
		if _, err := h.server.opts.Chat.Send(ctx, h.chatConv, chat.Visitor, nil, body, ""); err != nil {
			t.Fatal(err)
		}
	}
	unread := func() int64 {
		var out struct{ Conversations []conversationJSON }
		agent.get("/api/v1/chat/conversations?status=open").decode(t, &out)
		for _, c := range out.Conversations {
			if c.ID == h.chatConv {
				return c.Unread
			}
		}
		t.Fatalf("conversation %d not listed", h.chatConv)
		return 0
	}
	if n := unread(); n != 2 {
		t.Fatalf("unread %d, want 2", n)
	}
	read := func(seq any) response {
		return agent.json("POST", fmt.Sprintf("/api/v1/chat/conversations/%d/read", h.chatConv), map[string]any{"seq": seq})
	}
	if r := read(1); r.status != 200 || !strings.Contains(r.body, `"unread":1`) {
		t.Fatalf("read to 1: %d %s", r.status, r.body)
	}
	if u := readUpdate(t, aws); u.Conversation.Unread != 1 || u.Conversation.ReadSeq != 1 {
		t.Fatalf("the inbox got %+v", u.Conversation)
	}
	if r := read(99); r.status != 200 || !strings.Contains(r.body, `"read_seq":2`) || !strings.Contains(r.body, `"unread":0`) {
		t.Fatalf("read past the end: %d %s", r.status, r.body)
	}
	if r := read(1); r.status != 200 || !strings.Contains(r.body, `"read_seq":2`) {
		t.Fatalf("read backwards: %d %s", r.status, r.body)
	}
	if r := read(-1); r.status != 422 {
		t.Fatalf("negative seq: %d %s", r.status, r.body)
	}
	if n := unread(); n != 0 {
		t.Fatalf("unread %d after reading", n)
	}
}

// TestChatRoundRobin: new chats go in turn to the online agents under their limit; an
// agent who is away, at their limit or without an inbox open gets none, and with
// nobody free a chat waits unassigned. The widget offers chat only while someone is
// online.
func TestChatRoundRobin(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	ctx := context.Background()
	agent, lead := h.loggedIn(accounts.RoleAgent), h.loggedIn(accounts.RoleSupervisor)
	agentID, leadID := h.users[accounts.RoleAgent].ID, h.users[accounts.RoleSupervisor].ID
	online := func() bool {
		var cfg struct{ Online bool }
		h.client().get("/api/v1/chat/config").decode(t, &cfg)
		return cfg.Online
	}
	if online() {
		t.Fatal("online with no inbox open")
	}
	start := func() *int64 {
		t.Helper()
		h.clock.Advance(time.Second)
		c, _, err := h.server.opts.Chat.Start(ctx, "V", "", "")
		if err != nil {
			t.Fatal(err)
		}
		return c.AssigneeID
	}
	if a := start(); a != nil {
		t.Fatalf("assigned to %d with nobody online", *a)
	}
	agentWS := inboxOf(t, h, agent)
	inboxOf(t, h, lead)
	if !online() {
		t.Fatal("not online with two inboxes open")
	}
	admin := h.loggedIn(accounts.RoleAdmin)
	if r := admin.json("PUT", fmt.Sprintf("/api/v1/chat/agents/%d", agentID), map[string]any{"max_chats": 2}); r.status != 200 || !strings.Contains(r.body, `"max_chats":2`) {
		t.Fatalf("set limit: %d %s", r.status, r.body)
	}
	var got []int64
	for range 5 {
		a := start()
		if a == nil {
			t.Fatalf("unassigned after %v", got)
		}
		got = append(got, *a)
	}
	// In turn while both have room; then the agent is at their limit of 2.
	if got[0] == got[1] || got[2] != got[0] || got[3] != got[1] || got[4] != leadID {
		t.Fatalf("assigned in the order %v (agent %d, lead %d)", got, agentID, leadID)
	}
	if r := lead.json("PUT", "/api/v1/chat/presence", map[string]any{"status": "away"}); r.status != 200 || !strings.Contains(r.body, `"presence":"away"`) {
		t.Fatalf("away: %d %s", r.status, r.body)
	}
	if a := start(); a != nil {
		t.Fatalf("assigned to %d: the agent is full and the lead away", *a)
	}
	if !online() {
		t.Fatal("the agent is online (if full): chat stays offered")
	}
	// Closing one of the agent's chats makes room.
	var out struct{ Conversations []conversationJSON }
	agent.get("/api/v1/chat/conversations?status=open").decode(t, &out)
	for _, c := range out.Conversations {
		if c.AssigneeID != nil && *c.AssigneeID == agentID {
			if r := agent.json("POST", fmt.Sprintf("/api/v1/chat/conversations/%d/close", c.ID), nil); r.status != 200 {
				t.Fatalf("close: %d", r.status)
			}
			break
		}
	}
	if a := start(); a == nil || *a != agentID {
		t.Fatalf("after closing one, assigned to %v, want the agent", a)
	}
	for _, bad := range []map[string]any{{"status": "busy"}, {}} {
		if r := agent.json("PUT", "/api/v1/chat/presence", bad); r.status != 422 {
			t.Fatalf("presence %v: %d %s", bad, r.status, r.body)
		}
	}
	for _, bad := range []map[string]any{{"status": "busy"}, {"max_chats": 0, "status": "gone"}, {"max_chats": 101}} {
		if r := admin.json("PUT", fmt.Sprintf("/api/v1/chat/agents/%d", agentID), bad); r.status != 422 {
			t.Fatalf("agent settings %v: %d %s", bad, r.status, r.body)
		}
	}
	agentWS.Close(websocket.StatusNormalClosure, "")
	h.waitFor(t, "the agent to be offline", func() bool {
		var agents struct{ Agents []agentJSON }
		lead.get("/api/v1/chat/agents").decode(t, &agents)
		for _, a := range agents.Agents {
			if a.ID == agentID {
				return a.Presence == "offline" && a.MaxChats == 2 && a.OpenChats == 2
			}
		}
		return false
	})
	if online() {
		t.Fatal("online with the only online agent gone and the lead away")
	}
	if r := admin.json("PUT", fmt.Sprintf("/api/v1/chat/agents/%d", agentID), map[string]any{"max_chats": 8}); r.status != 200 || !strings.Contains(r.body, `"max_chats":8`) {
		t.Fatalf("admin sets the limit: %d %s", r.status, r.body)
	}
}

// TestChatCannedResponses: admins keep the team's canned responses, agents read them.
func TestChatCannedResponses(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	admin, agent := h.loggedIn(accounts.RoleAdmin), h.loggedIn(accounts.RoleAgent)
	r := admin.json("POST", "/api/v1/chat/canned", map[string]string{"shortcut": "/Danke", "body": "Vielen Dank für Ihre Nachricht!"})
	if r.status != 201 || !strings.Contains(r.body, `"shortcut":"danke"`) {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created cannedJSON
	r.decode(t, &created)
	before := h.counts()
	for _, bad := range []map[string]string{{"shortcut": "danke", "body": "again"}, {"shortcut": "two words", "body": "x"}, {"shortcut": "ok", "body": " "}} {
		r := admin.json("POST", "/api/v1/chat/canned", bad)
		if r.status != 409 && r.status != 422 {
			t.Fatalf("create %v: %d %s", bad, r.status, r.body)
		}
		r.problem(t)
	}
	if after := h.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("refused canned responses wrote: %v → %v", before, after)
	}
	var list struct{ Canned []cannedJSON }
	agent.get("/api/v1/chat/canned").decode(t, &list)
	if len(list.Canned) != 1 || list.Canned[0].Body != "Vielen Dank für Ihre Nachricht!" {
		t.Fatalf("the agent sees %+v", list.Canned)
	}
	if r := admin.do("DELETE", fmt.Sprintf("/api/v1/chat/canned/%d", created.ID), "", nil, nil); r.status != 204 {
		t.Fatalf("delete: %d", r.status)
	}
	if r := admin.do("DELETE", fmt.Sprintf("/api/v1/chat/canned/%d", created.ID), "", nil, nil); r.status != 404 {
		t.Fatalf("delete again: %d", r.status)
	}
}

// multipartBody builds an upload: text fields first, then the file.
func multipartBody(t *testing.T, fields map[string]string, filename string, content []byte) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	fw, err := w.CreateFormFile("file", filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(content)
	w.Close()
	return w.FormDataContentType(), &buf
}

// TestChatAttachments: a visitor sends a file; it is stored before it is acknowledged,
// reaches the agent as a message, and can be fetched by the agent and by that visitor
// only. Too large a file is refused and leaves nothing behind.
func TestChatAttachments(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	h.loggedIn(accounts.RoleAdmin).json("PUT", "/api/v1/settings/chat", map[string][]string{"origins": {shop}})
	agent := h.loggedIn(accounts.RoleAgent)
	aws := inboxOf(t, h, agent)
	v := h.client()
	content := []byte("<html><script>alert(1)</script></html>")
	ct, body := multipartBody(t, map[string]string{"token": h.chatTok, "client_id": "f1"}, "../../Rechnung.html", content)
	r := v.do("POST", "/api/v1/chat/attachments", ct, body, map[string]string{"Origin": shop})
	if r.status != 201 || r.header.Get("Access-Control-Allow-Origin") != shop {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	var ack frame
	r.decode(t, &ack)
	if ack.Seq == 0 || ack.Attachment == nil || ack.Attachment.Filename != "Rechnung.html" || ack.Attachment.Size != int64(len(content)) {
		t.Fatalf("upload answered %+v", ack)
	}
	if f := readFrame(t, aws); f.Type != "message" || f.Attachment == nil || f.Attachment.ID != ack.Attachment.ID || f.Author != "visitor" {
		t.Fatalf("the agent got %+v", f)
	}
	// A retried upload (same client id) lands once.
	ct, body = multipartBody(t, map[string]string{"token": h.chatTok, "client_id": "f1"}, "Rechnung.html", content)
	if r := v.do("POST", "/api/v1/chat/attachments", ct, body, map[string]string{"Origin": shop}); r.status != 201 || !strings.Contains(r.body, fmt.Sprintf(`"seq":%d`, ack.Seq)) {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	dl := agent.get(ack.Attachment.URL)
	if dl.status != 200 || dl.body != string(content) || dl.header.Get("Content-Type") != "application/octet-stream" || !strings.Contains(dl.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("agent download: %d %v", dl.status, dl.header)
	}
	vdl := v.do("POST", ack.Attachment.URL, "application/x-www-form-urlencoded", strings.NewReader(url.Values{"token": {h.chatTok}}.Encode()), map[string]string{"Origin": shop})
	if vdl.status != 200 || vdl.body != string(content) {
		t.Fatalf("visitor download: %d %s", vdl.status, vdl.body)
	}
	_, other, err := h.server.opts.Chat.Start(context.Background(), "Other", "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{other, "", "nonsense"} {
		if r := v.do("POST", ack.Attachment.URL, "application/x-www-form-urlencoded", strings.NewReader(url.Values{"token": {tok}}.Encode()), map[string]string{"Origin": shop}); r.status != 404 {
			t.Fatalf("another visitor's download: %d", r.status)
		}
	}
	before := h.counts()
	ct, body = multipartBody(t, map[string]string{"token": h.chatTok}, "big.bin", bytes.Repeat([]byte("x"), 65<<10))
	if r := v.do("POST", "/api/v1/chat/attachments", ct, body, map[string]string{"Origin": shop}); r.status != 413 {
		t.Fatalf("too large: %d %s", r.status, r.body)
	}
	ct, body = multipartBody(t, map[string]string{"token": other + "x"}, "a.txt", []byte("hi"))
	if r := v.do("POST", "/api/v1/chat/attachments", ct, body, map[string]string{"Origin": shop}); r.status != 404 {
		t.Fatalf("bad token: %d %s", r.status, r.body)
	}
	ct, body = multipartBody(t, map[string]string{"token": h.chatTok}, "a.txt", []byte("hi"))
	if r := v.do("POST", "/api/v1/chat/attachments", ct, body, map[string]string{"Origin": "https://evil.example"}); r.status != 403 {
		t.Fatalf("from a foreign site: %d %s", r.status, r.body)
	}
	if after := h.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("refused uploads wrote: %v → %v", before, after)
	}
	// One address may send 30 files an hour; the quota is everyone's.
	for i := 0; ; i++ {
		ct, body = multipartBody(t, map[string]string{"token": h.chatTok}, fmt.Sprintf("f%d.txt", i), []byte("hi"))
		r := v.do("POST", "/api/v1/chat/attachments", ct, body, map[string]string{"Origin": shop})
		if r.status == 429 {
			if i < 20 || r.header.Get("Retry-After") == "" {
				t.Fatalf("throttled after %d files: %d %v", i, r.status, r.header)
			}
			break
		}
		if r.status != 201 || i > 40 {
			t.Fatalf("file %d: %d", i, r.status)
		}
	}
	// An agent sends one too.
	ct, body = multipartBody(t, nil, "Anleitung.pdf", []byte("%PDF-1.4 tiny"))
	if r := agent.do("POST", fmt.Sprintf("/api/v1/chat/conversations/%d/attachments", h.chatConv), ct, body, nil); r.status != 201 || !strings.Contains(r.body, `"author":"agent"`) {
		t.Fatalf("agent upload: %d %s", r.status, r.body)
	}
}
