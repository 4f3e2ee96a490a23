package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/notify"
)

func TestChatBecomesATicket(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	ctx := context.Background()
	agentID := h.users[accounts.RoleAgent].ID
	svc := h.server.opts.Chat
	svc.Send(ctx, h.chatConv, chat.Visitor, nil, "Mein Drucker <b>streikt</b>", "v1")
	svc.Send(ctx, h.chatConv, chat.Agent, &agentID, "Ich lege ein Ticket an.", "a1")
	agent := h.loggedIn(accounts.RoleAgent)
	r := agent.json("POST", fmt.Sprintf("/api/v1/chat/conversations/%d/ticket", h.chatConv), nil)
	if r.status != 201 {
		t.Fatalf("to ticket: %d %s", r.status, r.body)
	}
	var tk ticketJSON
	r.decode(t, &tk)
	var full struct{ Messages []messageJSON }
	agent.get(fmt.Sprintf("/api/v1/tickets/%d", tk.ID)).decode(t, &full)
	if tk.RequesterEmail != "walker@example.org" || tk.Source != "chat" || len(full.Messages) != 1 ||
		!strings.Contains(full.Messages[0].Body, "Walker: Mein Drucker <b>streikt</b>") || !strings.Contains(full.Messages[0].Body, "agent: Ich lege ein Ticket an.") {
		t.Fatalf("ticket %+v with %+v", tk, full.Messages)
	}
	after, _ := svc.After(ctx, h.chatConv, 2)
	if len(after) != 1 || after[0].Author != chat.System || !strings.Contains(after[0].Body, fmt.Sprintf("#%d", tk.ID)) {
		t.Fatalf("the conversation was not told: %+v", after)
	}
	// Without an e-mail address there is nobody to answer.
	anon, _, _ := svc.Start(ctx, "Anon", "", "")
	svc.Send(ctx, anon.ID, chat.Visitor, nil, "hi", "")
	if r := agent.json("POST", fmt.Sprintf("/api/v1/chat/conversations/%d/ticket", anon.ID), nil); r.status != 422 || !strings.Contains(r.body, "visitor_email") {
		t.Fatalf("anonymous conversation: %d %s", r.status, r.body)
	}
}

func TestOfflineMessageBecomesATicket(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	h.loggedIn(accounts.RoleAdmin).json("PUT", "/api/v1/settings/chat", map[string][]string{"origins": {shop}})
	v := h.client()
	body := `{"name":"Rita","email":"rita@example.org","message":"Bitte rufen Sie mich an."}`
	if r := v.do("POST", "/api/v1/chat/offline", "application/json", strings.NewReader(body), map[string]string{"Origin": "https://evil.example"}); r.status != 403 {
		t.Fatalf("from a foreign site: %d", r.status)
	}
	r := v.do("POST", "/api/v1/chat/offline", "application/json", strings.NewReader(body), map[string]string{"Origin": shop})
	if r.status != 201 || r.header.Get("Access-Control-Allow-Origin") != shop {
		t.Fatalf("offline message: %d %s", r.status, r.body)
	}
	var out struct{ Reference int64 }
	r.decode(t, &out)
	tk, err := h.server.opts.Tickets.Get(context.Background(), out.Reference)
	if err != nil || tk.Source != "chat" || tk.RequesterEmail != "rita@example.org" {
		t.Fatalf("ticket %+v, %v", tk, err)
	}
	if r := v.do("POST", "/api/v1/chat/offline", "application/json", strings.NewReader(`{"name":"x","email":"nope","message":"m"}`), map[string]string{"Origin": shop}); r.status != 422 {
		t.Fatalf("bad e-mail: %d", r.status)
	}
}

// TestChatTranscriptByEmail: a visitor asks for their transcript and it is queued for
// the address they started the chat with, never another; a wrong token or a chat
// without an address queues nothing.
func TestChatTranscriptByEmail(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	ctx := context.Background()
	if _, err := h.server.opts.Chat.SetOrigins(ctx, h.server.opts.Settings, []string{shop}); err != nil {
		t.Fatal(err)
	}
	conv, token, err := h.server.opts.Chat.Start(ctx, "Rita", "Rita@Example.org", shop)
	if err != nil {
		t.Fatal(err)
	}
	agentID := h.users[accounts.RoleAgent].ID
	for _, m := range []struct {
		a    chat.Author
		body string
	}{{chat.Visitor, "Wo ist <b>Paket</b> 7?"}, {chat.Agent, "Es kommt morgen."}} {
		var uid *int64
		if m.a == chat.Agent {
			uid = &agentID
		}
		if _, err := h.server.opts.Chat.Send(ctx, conv.ID, m.a, uid, m.body, ""); err != nil {
			t.Fatal(err)
		}
	}
	_, noMailToken, _ := h.server.opts.Chat.Start(ctx, "Anonym", "", shop)
	outbox := func() []notify.Mail {
		mails, err := h.mailer.Outbox(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []notify.Mail
		for _, m := range mails {
			if m.Kind == "transcript" {
				out = append(out, m)
			}
		}
		return out
	}
	post := func(body string) response {
		return h.client().do("POST", "/api/v1/chat/transcript", "application/json", strings.NewReader(body), map[string]string{"Origin": shop})
	}
	if r := post(`{"token":"wrong"}`); r.status != 404 {
		t.Errorf("wrong token: %d %s", r.status, r.body)
	}
	if r := post(`{"token":"` + noMailToken + `"}`); r.status != 422 {
		t.Errorf("chat without an address: %d %s", r.status, r.body)
	}
	if n := len(outbox()); n != 0 {
		t.Fatalf("refused requests queued %d transcripts", n)
	}
	post(`{"token":"` + token + `","email":"attacker@example.net"}`) // an address in the request is never used
	if r := post(`{"token":"` + token + `"}`); r.status != 202 || r.header.Get("Access-Control-Allow-Origin") != shop {
		t.Fatalf("transcript: %d %s", r.status, r.body)
	}
	mails := outbox()
	if len(mails) == 0 {
		t.Fatal("no transcript queued")
	}
	for _, m := range mails {
		if m.To != "rita@example.org" {
			t.Errorf("transcript to %q", m.To)
		}
	}
	body := mails[len(mails)-1].Body
	if !strings.Contains(body, "You: Wo ist <b>Paket</b> 7?") || !strings.Contains(body, "Support: Es kommt morgen.") {
		t.Errorf("transcript body:\n%s", body)
	}
}

// TestChatCloseAndReopen: an agent closes a conversation, which records when and tells
// the visitor; a visitor writing again opens it; a viewer can read but not close. The
// timings for the reports are kept.
func TestChatCloseAndReopen(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	ctx := context.Background()
	svc := h.server.opts.Chat
	conv, _, err := svc.Start(ctx, "Rita", "rita@example.org", shop)
	if err != nil {
		t.Fatal(err)
	}
	started := h.clock.Now()
	h.clock.Advance(90 * time.Second)
	agentID := h.users[accounts.RoleAgent].ID
	if _, err := svc.Send(ctx, conv.ID, chat.Agent, &agentID, "Hallo!", ""); err != nil {
		t.Fatal(err)
	}
	answered := h.clock.Now()
	h.clock.Advance(10 * time.Minute)
	agent, viewer := h.loggedIn(accounts.RoleAgent), h.loggedIn(accounts.RoleViewer)
	path := fmt.Sprintf("/api/v1/chat/conversations/%d", conv.ID)
	if r := viewer.json("POST", path+"/close", nil); r.status != 403 {
		t.Fatalf("a viewer closed a chat: %d", r.status)
	}
	var got conversationJSON
	r := agent.json("POST", path+"/close", nil)
	if r.status != 200 {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	r.decode(t, &got)
	if got.Status != "closed" || got.ClosedAt == nil || !got.ClosedAt.Equal(h.clock.Now()) || !got.StartedAt.Equal(started) ||
		got.FirstResponseAt == nil || !got.FirstResponseAt.Equal(answered) {
		t.Fatalf("closed conversation %+v", got)
	}
	before := h.counts()["chat_messages"]
	if r := agent.json("POST", path+"/close", nil); r.status != 200 || h.counts()["chat_messages"] != before {
		t.Errorf("closing twice: %d, messages %d → %d", r.status, before, h.counts()["chat_messages"])
	}
	var view struct {
		Conversation conversationJSON
		Messages     []frame
	}
	viewer.get(path).decode(t, &view)
	if n := len(view.Messages); n != 2 || view.Messages[1].Author != "system" || view.Messages[1].Body != "The conversation was closed." {
		t.Fatalf("the visitor was not told: %+v", view.Messages)
	}
	var list struct{ Conversations []conversationJSON }
	viewer.get("/api/v1/chat/conversations?status=closed").decode(t, &list)
	if len(list.Conversations) != 1 || list.Conversations[0].ID != conv.ID {
		t.Errorf("closed list %+v", list)
	}
	if r := viewer.get("/api/v1/chat/conversations?status=bogus"); r.status != 422 {
		t.Errorf("bad status filter: %d", r.status)
	}

	// The visitor writes again: the conversation is open, its close forgotten.
	if _, err := svc.Send(ctx, conv.ID, chat.Visitor, nil, "Noch eine Frage", "v2"); err != nil {
		t.Fatal(err)
	}
	if c, _ := svc.Conversation(ctx, conv.ID); c.Status != "open" || c.ClosedAt != nil {
		t.Fatalf("after the visitor wrote again: %+v", c)
	}
	agent.json("POST", path+"/close", nil)
	if r := agent.json("POST", path+"/reopen", nil); r.status != 200 {
		t.Fatalf("reopen: %d", r.status)
	}
	if c, _ := svc.Conversation(ctx, conv.ID); c.Status != "open" || c.ClosedAt != nil {
		t.Fatalf("after reopening: %+v", c)
	}
	if r := agent.json("POST", "/api/v1/chat/conversations/999999/close", nil); r.status != 404 {
		t.Errorf("closing a missing chat: %d", r.status)
	}
}
