package web

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

// TestRestrictedAgentSeesOnlyTheirTickets: with ticket_scope "assigned", a user sees only
// tickets assigned to them; any other ticket, its history and its attachments are
// "not found", exactly like a missing one.
func TestRestrictedAgentSeesOnlyTheirTickets(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	admin := h.loggedIn(accounts.RoleAdmin)
	agentID := h.users[accounts.RoleAgent].ID
	if r := admin.json("PATCH", fmt.Sprintf("/api/v1/users/%d", agentID), map[string]string{"ticket_scope": "assigned"}); r.status != 200 || !strings.Contains(r.body, `"ticket_scope":"assigned"`) {
		t.Fatalf("restrict the agent: %d %s", r.status, r.body)
	}
	if r := admin.json("PATCH", fmt.Sprintf("/api/v1/users/%d", agentID), map[string]string{"ticket_scope": "some"}); r.status != 422 {
		t.Fatalf("bad scope: %d", r.status)
	}
	var mine ticketJSON
	admin.json("POST", "/api/v1/tickets", map[string]any{"subject": "Yours", "requester_email": "r@example.org", "body": "b", "assignee_id": agentID}).decode(t, &mine)
	var att attachmentJSON
	upload(admin, mine.ID, "mine.txt", []byte("mine")).decode(t, &att)

	agent := h.loggedIn(accounts.RoleAgent)
	var list struct{ Items []ticketJSON }
	agent.get("/api/v1/tickets?limit=200").decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != mine.ID {
		t.Fatalf("the restricted agent lists %+v", list.Items)
	}
	other := h.ticket.ID // unassigned
	for _, path := range []string{fmt.Sprintf("/api/v1/tickets/%d", other), fmt.Sprintf("/api/v1/tickets/%d/history", other),
		fmt.Sprintf("/api/v1/attachments/%d", h.attach.ID), fmt.Sprintf("/tickets/%d", other)} {
		if r := agent.get(path); r.status != 404 {
			t.Errorf("GET %s: %d, want 404", path, r.status)
		}
	}
	if r := agent.json("POST", fmt.Sprintf("/api/v1/tickets/%d/messages", other), map[string]string{"kind": "reply", "body": "x"}); r.status != 404 {
		t.Errorf("reply to another's ticket: %d, want 404", r.status)
	}
	if r := agent.json("POST", fmt.Sprintf("/api/v1/tickets/%d/merge", mine.ID), map[string]int64{"into": other}); r.status != 422 {
		t.Errorf("merge into a ticket out of scope: %d, want 422", r.status)
	}
	if r := agent.get(att.URL); r.status != 200 || r.body != "mine" {
		t.Errorf("own attachment: %d", r.status)
	}
	if r := agent.get(fmt.Sprintf("/api/v1/tickets/%d", mine.ID)); r.status != 200 {
		t.Errorf("own ticket: %d", r.status)
	}
	// Unrestricted users see everything, as before.
	if r := h.loggedIn(accounts.RoleViewer).get(fmt.Sprintf("/api/v1/attachments/%d", h.attach.ID)); r.status != 200 {
		t.Errorf("viewer: %d", r.status)
	}
}
