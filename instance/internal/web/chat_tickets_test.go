package web

import (
	"context"
	"fmt"
	"strings"
	"testing"

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
