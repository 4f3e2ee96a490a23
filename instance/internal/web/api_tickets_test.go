package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

func TestTicketLifecycleThroughTheAPI(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	agent := h.loggedIn(accounts.RoleAgent)
	viewer := h.loggedIn(accounts.RoleViewer)
	res := agent.json("POST", "/api/v1/tickets", map[string]any{"subject": "Invoice wrong", "requester_name": "Rita",
		"requester_email": "rita@example.org", "body": "The VAT is missing.", "tags": []string{"billing"}, "priority": "high"})
	if res.status != http.StatusCreated || res.header.Get("Location") == "" {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	var tk ticketJSON
	res.decode(t, &tk)
	path := fmt.Sprintf("/api/v1/tickets/%d", tk.ID)

	if r := agent.json("POST", path+"/messages", map[string]string{"kind": "note", "body": "ask finance"}); r.status != 201 {
		t.Fatalf("note: %d %s", r.status, r.body)
	}
	if r := agent.json("POST", path+"/messages", map[string]string{"kind": "reply", "body": "Fixed, see the new invoice."}); r.status != 201 {
		t.Fatalf("reply: %d %s", r.status, r.body)
	}
	for _, st := range []string{"pending", "solved", "closed"} {
		if r := agent.json("PATCH", path, map[string]string{"status": st}); r.status != 200 || !strings.Contains(r.body, `"status":"`+st+`"`) {
			t.Fatalf("status %s: %d %s", st, r.status, r.body)
		}
	}
	var full struct {
		ticketJSON
		Messages []messageJSON `json:"messages"`
	}
	viewer.get(path).decode(t, &full)
	if full.FirstResponseAt == nil || full.SolvedAt == nil || full.ClosedAt == nil || len(full.Messages) != 3 || full.Messages[1].Kind != "note" {
		t.Fatalf("ticket after its life: %+v", full)
	}
	var hist struct{ Items []changeJSON }
	viewer.get(path+"/history").decode(t, &hist)
	var fields []string
	for _, c := range hist.Items {
		fields = append(fields, c.Field+"="+c.To)
	}
	if got := strings.Join(fields, " "); got != "created=new status=open status=pending status=solved status=closed" {
		t.Fatalf("history %s", got)
	}

	// A viewer reads but does not write.
	if r := viewer.json("PATCH", path, map[string]string{"status": "open"}); r.status != 403 {
		t.Fatalf("viewer write: %d", r.status)
	}
	// Assign to a colleague; an inactive or viewer user is refused.
	if r := agent.json("PATCH", path, map[string]any{"assignee_id": h.users[accounts.RoleSupervisor].ID}); r.status != 200 {
		t.Fatalf("assign: %d %s", r.status, r.body)
	}
	if r := agent.json("PATCH", path, map[string]any{"assignee_id": h.users[accounts.RoleViewer].ID}); r.status != 422 {
		t.Fatalf("assign to a viewer: %d %s", r.status, r.body)
	}

	// Merge a second ticket from the same requester into the first.
	var second ticketJSON
	agent.json("POST", "/api/v1/tickets", map[string]any{"subject": "VAT again", "requester_email": "rita@example.org", "body": "still missing"}).decode(t, &second)
	if r := agent.json("POST", fmt.Sprintf("/api/v1/tickets/%d/merge", second.ID), map[string]int64{"into": tk.ID}); r.status != 200 {
		t.Fatalf("merge: %d %s", r.status, r.body)
	}
	viewer.get(path).decode(t, &full)
	if len(full.Messages) != 4 {
		t.Fatalf("%d messages after merge, want 4", len(full.Messages))
	}
	if r := agent.json("POST", fmt.Sprintf("/api/v1/tickets/%d/merge", tk.ID), map[string]int64{"into": tk.ID}); r.status != 422 {
		t.Fatalf("merge into itself: %d", r.status)
	}

	// Filters.
	var list struct{ Items []ticketJSON }
	viewer.get("/api/v1/tickets?requester=rita@example.org&tag=billing&assignee="+fmt.Sprint(h.users[accounts.RoleSupervisor].ID)).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != tk.ID {
		t.Fatalf("filtered list %+v", list.Items)
	}
	for _, bad := range []string{"?status=lost", "?assignee=someone", "?sort=random", "?limit=0", "?cursor=junk"} {
		if r := viewer.get("/api/v1/tickets" + bad); r.status != 422 {
			t.Errorf("list%s: %d, want 422", bad, r.status)
		} else {
			r.problem(t)
		}
	}
	before := h.counts()
	for _, body := range []string{`{"subject":"","requester_email":"x@example.org","body":"b"}`, `{"subject":"s","requester_email":"nope","body":"b"}`,
		`{"subject":"s","requester_email":"x@example.org","body":""}`, `{"subject":"s","requester_email":"x@example.org","body":"b","tags":["a b"]}`} {
		if r := agent.do("POST", "/api/v1/tickets", "application/json", strings.NewReader(body), nil); r.status != 422 {
			t.Errorf("create %s: %d", body, r.status)
		}
	}
	if after := h.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("refused creates wrote: %v → %v", before, after)
	}
}
