package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/notify"
)

// hookInbox is a local webhook receiver keeping each event it gets.
type hookInbox struct {
	mu     sync.Mutex
	events []map[string]any
	srv    *httptest.Server
}

func newHookInbox(t *testing.T) *hookInbox {
	b := &hookInbox{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &ev)
		b.mu.Lock()
		b.events = append(b.events, ev)
		b.mu.Unlock()
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *hookInbox) types() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, e := range b.events {
		out = append(out, fmt.Sprint(e["type"]))
	}
	return out
}

// TestNotificationTargetsAPI: admins add targets; the API never shows a URL, key or
// secret again (a webhook's secret once, when created); a wrong target is refused and
// stores nothing; "send test" reports how it went and the log keeps it.
func TestNotificationTargetsAPI(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	admin := h.loggedIn(accounts.RoleAdmin)
	rx := newHookInbox(t)
	r := admin.json("POST", "/api/v1/notifications/targets", map[string]any{"kind": "webhook", "name": "CRM", "url": rx.srv.URL + "/in/SECRETPATH",
		"events": []string{"chat.new", "ticket.new"}})
	var created targetJSON
	r.decode(t, &created)
	if r.status != 201 || !strings.HasPrefix(created.Secret, "whsec_") || strings.Contains(r.body, "SECRETPATH") {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/api/v1/notifications/targets", fmt.Sprintf("/api/v1/notifications/targets/%d", created.ID)} {
		if g := admin.get(path); g.status != 200 || strings.Contains(g.body, "SECRETPATH") || strings.Contains(g.body, created.Secret) {
			t.Fatalf("GET %s shows a secret: %s", path, g.body)
		}
	}
	before := h.counts()
	for _, bad := range []map[string]any{{"kind": "slack", "url": "http://hooks.example.com/x"}, {"kind": "bark"}, {"kind": "pager"},
		{"kind": "discord", "url": "https://discord.example/x", "events": []string{"all"}}} {
		r := admin.json("POST", "/api/v1/notifications/targets", bad)
		if r.status != 422 {
			t.Fatalf("create %v: %d %s", bad, r.status, r.body)
		}
		r.problem(t)
	}
	if r := admin.json("PATCH", fmt.Sprintf("/api/v1/notifications/targets/%d", created.ID), map[string]any{"kind": "slack"}); r.status != 422 {
		t.Fatalf("change kind: %d", r.status)
	}
	if after := h.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("refused targets wrote: %v → %v", before, after)
	}
	if r := admin.json("POST", fmt.Sprintf("/api/v1/notifications/targets/%d/test", created.ID), nil); r.status != 200 || !strings.Contains(r.body, `"ok":true`) {
		t.Fatalf("test: %d %s", r.status, r.body)
	}
	if rx.types()[0] != "test" {
		t.Fatalf("the receiver got %v", rx.types())
	}
	if r := admin.get(fmt.Sprintf("/api/v1/notifications/targets/%d/log", created.ID)); !strings.Contains(r.body, `"status_code":200`) {
		t.Fatalf("log: %s", r.body)
	}
	if r := admin.json("PATCH", fmt.Sprintf("/api/v1/notifications/targets/%d", created.ID), map[string]any{"active": false, "name": "CRM (paused)"}); r.status != 200 || !strings.Contains(r.body, `"active":false`) {
		t.Fatalf("pause: %d %s", r.status, r.body)
	}
	if r := admin.do("DELETE", fmt.Sprintf("/api/v1/notifications/targets/%d", created.ID), "", nil, nil); r.status != 204 {
		t.Fatalf("delete: %d", r.status)
	}
	for _, table := range []string{"notify_deliveries", "notify_attempts"} {
		var n int64
		h.db.Gorm().Table(table).Where("target_id = ?", created.ID).Count(&n)
		if n != 0 {
			t.Fatalf("%d rows of the deleted target left in %s", n, table)
		}
	}
	if r := h.loggedIn(accounts.RoleAgent).get("/api/v1/notifications/targets"); r.status != 403 {
		t.Fatalf("an agent lists targets: %d", r.status)
	}
}

// TestEventsReachTargets: a new chat, a new ticket, an agent's reply and a chat
// waiting too long each reach the targets subscribed to them, once.
func TestEventsReachTargets(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	ctx := context.Background()
	admin, agent := h.loggedIn(accounts.RoleAdmin), h.loggedIn(accounts.RoleAgent)
	rx := newHookInbox(t)
	if r := admin.json("POST", "/api/v1/notifications/targets", map[string]any{"kind": "webhook", "url": rx.srv.URL,
		"events": []string{"chat.new", "chat.unanswered", "ticket.new", "ticket.reply"}}); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	deliver := func() {
		t.Helper()
		if _, err := h.server.opts.Hooks.Deliver(ctx); err != nil {
			t.Fatal(err)
		}
	}
	conv, _, err := h.server.opts.Chat.Start(ctx, "Lena", "lena@example.org", shop)
	if err != nil {
		t.Fatal(err)
	}
	h.server.opts.Chat.Send(ctx, conv.ID, chat.Visitor, nil, "Hallo?", "")
	answered, _, _ := h.server.opts.Chat.Start(ctx, "Max", "", shop)
	agentID := h.users[accounts.RoleAgent].ID
	h.server.opts.Chat.Send(ctx, answered.ID, chat.Visitor, nil, "Hi", "")
	h.server.opts.Chat.Send(ctx, answered.ID, chat.Agent, &agentID, "Hallo Max", "")
	var tk ticketJSON
	agent.json("POST", "/api/v1/tickets", map[string]any{"subject": "Rechnung", "requester_email": "rita@example.org", "body": "fehlt"}).decode(t, &tk)
	agent.json("POST", fmt.Sprintf("/api/v1/tickets/%d/messages", tk.ID), map[string]any{"kind": "reply", "body": "Kommt morgen."})
	deliver()
	if got := strings.Join(rx.types(), " "); got != "chat.new ticket.new ticket.reply" {
		t.Fatalf("the receiver got %q", got)
	}
	// The second chat within the minute is told when the minute is over.
	h.clock.Advance(notify.CoalesceWindow)
	deliver()
	if got := strings.Join(rx.types(), " "); got != "chat.new ticket.new ticket.reply chat.new" {
		t.Fatalf("the receiver got %q", got)
	}
	if r := admin.json("PUT", "/api/v1/settings/notifications", map[string]any{"unanswered_minutes": 0}); r.status != 422 {
		t.Fatalf("0 minutes: %d", r.status)
	}
	if r := admin.json("PUT", "/api/v1/settings/notifications", map[string]any{"unanswered_minutes": 10}); r.status != 200 {
		t.Fatalf("10 minutes: %d %s", r.status, r.body)
	}
	wait := notify.UnansweredWait(ctx, h.server.opts.Settings)
	h.clock.Advance(9*time.Minute - notify.CoalesceWindow)
	h.server.opts.Hooks.NotifyUnanswered(ctx, h.server.opts.Chat, wait)
	deliver()
	if n := len(rx.types()); n != 4 {
		t.Fatalf("told of an unanswered chat after 9 of 10 minutes: %v", rx.types())
	}
	h.clock.Advance(2 * time.Minute)
	h.server.opts.Hooks.NotifyUnanswered(ctx, h.server.opts.Chat, wait)
	deliver()
	told := len(rx.types())
	h.server.opts.Hooks.NotifyUnanswered(ctx, h.server.opts.Chat, wait) // told once, however often it looks
	deliver()
	if len(rx.types()) != told {
		t.Fatalf("told again: %v", rx.types())
	}
	// The harness's own chat went unanswered in the same minute: Lena's is told when
	// the minute is over.
	h.clock.Advance(notify.CoalesceWindow)
	deliver()
	var lena []map[string]any
	for _, ev := range rx.events[4:] {
		switch fmt.Sprint(ev["data"].(map[string]any)["conversation_id"]) {
		case fmt.Sprint(conv.ID):
			lena = append(lena, ev)
		case fmt.Sprint(answered.ID):
			t.Fatalf("told of an answered chat: %v", ev)
		}
	}
	if len(lena) != 1 || !strings.Contains(fmt.Sprint(lena[0]["title"]), "Lena") || !strings.Contains(fmt.Sprint(lena[0]["url"]), fmt.Sprintf("/inbox?c=%d", conv.ID)) {
		t.Fatalf("unanswered events for Lena's chat: %v (all: %v)", lena, rx.types())
	}
}
