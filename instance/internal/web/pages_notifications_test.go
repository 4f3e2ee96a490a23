package web

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

// TestNotificationsPage: an admin adds a webhook in the UI and sees its secret once,
// sends a test and sees the result in the log; a wrong URL is shown with its reason
// and stores nothing.
func TestNotificationsPage(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	admin := h.loggedIn(accounts.RoleAdmin)
	rx := newHookInbox(t)
	before := h.counts()
	bad := admin.form("/settings/notifications", url.Values{"kind": {"slack"}, "name": {"Team"}, "url": {"ftp://example.org/x"}, "events": {"chat.new"}})
	if bad.status != 422 || !strings.Contains(bad.body, "must use https") {
		t.Fatalf("bad url: %d", bad.status)
	}
	if after := h.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a refused target wrote: %v → %v", before, after)
	}
	r := admin.form("/settings/notifications", url.Values{"kind": {"webhook"}, "name": {"CRM <b>"}, "url": {rx.srv.URL + "/in"}, "events": {"chat.new", "ticket.new"}})
	if r.status != 201 || !strings.Contains(r.body, `id="new-secret"`) || !strings.Contains(r.body, "whsec_") || !strings.Contains(r.body, "CRM &lt;b&gt;") {
		t.Fatalf("create: %d", r.status)
	}
	page := admin.get("/settings/notifications")
	if strings.Contains(page.body, "whsec_") || strings.Contains(page.body, rx.srv.URL+"/in") {
		t.Fatal("the page shows the secret or the URL again")
	}
	targets, _ := h.server.opts.Hooks.Targets(t.Context())
	id := targets[len(targets)-1].ID
	if r := admin.form(fmt.Sprintf("/settings/notifications/%d/test", id), url.Values{}); r.status != 303 || !strings.Contains(r.header.Get("Location"), "ok=test-ok") {
		t.Fatalf("test: %d %s", r.status, r.header.Get("Location"))
	}
	if p := admin.get("/settings/notifications?ok=test-ok"); !strings.Contains(p.body, "200 OK") {
		t.Fatal("the log does not show the delivered test")
	}
	if r := admin.form("/settings/notifications/settings", url.Values{"unanswered_minutes": {"0"}}); r.status != 422 {
		t.Fatalf("0 minutes: %d", r.status)
	}
	if r := admin.form(fmt.Sprintf("/settings/notifications/%d/delete", id), url.Values{}); r.status != 303 {
		t.Fatalf("delete: %d", r.status)
	}
}
