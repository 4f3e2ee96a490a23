package web

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

func TestKnowledgeBasePortalAndAPI(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	sup := h.loggedIn(accounts.RoleSupervisor)
	res := sup.json("POST", "/api/v1/kb/articles", map[string]any{"title": "Rückerstattung beantragen", "language": "de", "publish": true,
		"body": "So beantragen Sie eine **Rückerstattung**.\n\n<script>alert(1)</script>\n\n[Formular](javascript:alert(2))"})
	if res.status != 201 {
		t.Fatalf("create article: %d %s", res.status, res.body)
	}
	var art articleJSON
	res.decode(t, &art)
	if strings.Contains(art.BodyHTML, "script") || strings.Contains(art.BodyHTML, "javascript:") || art.URL != "http://127.0.0.1/kb/a/rueckerstattung-beantragen" {
		t.Fatalf("article %+v", art)
	}
	sup.json("POST", "/api/v1/kb/articles", map[string]any{"title": "Rückerstattung intern", "language": "de", "body": "Entwurf zur Rückerstattung"})

	visitor := h.client()
	page := visitor.get("/kb?q=Rückerstattungen")
	if page.status != 200 || !strings.Contains(page.body, "<mark>Rückerstattung</mark>") || strings.Contains(page.body, "intern") {
		t.Fatalf("portal search: %d %s", page.status, page.body)
	}
	page = visitor.get("/kb/a/rueckerstattung-beantragen")
	if page.status != 200 || !strings.Contains(page.body, "<strong>Rückerstattung</strong>") || strings.Contains(page.body, "alert(") {
		t.Fatalf("article page: %d %s", page.status, page.body)
	}
	if p := visitor.get("/kb/a/rueckerstattung-intern"); p.status != 404 {
		t.Fatalf("draft page: %d", p.status)
	}
	if p := visitor.form("/kb/a/rueckerstattung-beantragen/helpful", url.Values{"helpful": {"yes"}}); p.status != 200 || !strings.Contains(p.body, "Thank you for your feedback") {
		t.Fatalf("vote: %d", p.status)
	}
	sup.get(fmt.Sprintf("/api/v1/kb/articles/%d", art.ID)).decode(t, &art)
	if art.HelpfulYes != 1 {
		t.Fatalf("helpful votes %d", art.HelpfulYes)
	}
	var hits struct{ Items []hitJSON }
	sup.get("/api/v1/kb/search?q="+url.QueryEscape("rückerstattung")).decode(t, &hits)
	if len(hits.Items) != 2 {
		t.Fatalf("agents find %d articles (drafts included), want 2", len(hits.Items))
	}

	// An agent finds the article from the ticket and gets its link to insert.
	agent := h.loggedIn(accounts.RoleAgent)
	page = agent.get(fmt.Sprintf("/tickets/%d?kbq=%s", h.ticket.ID, url.QueryEscape("Rückerstattung")))
	if !strings.Contains(page.body, `data-insert="Rückerstattung beantragen: http://127.0.0.1/kb/a/rueckerstattung-beantragen"`) {
		t.Fatalf("the ticket page offers no link to insert: %s", page.body)
	}

	// Read-only: the help center and search keep working.
	ro := newHarness(t, harnessOptions{readOnly: true}, true)
	if p := ro.client().get("/kb?q=refunds"); p.status != 200 || !strings.Contains(p.body, "<mark>") {
		t.Fatalf("read-only portal search: %d", p.status)
	}
	roViewer := ro.loggedIn(accounts.RoleViewer)
	if p := roViewer.get("/api/v1/kb/search?q=refund"); p.status != 200 || !strings.Contains(p.body, "Refunds") {
		t.Fatalf("read-only API search: %d %s", p.status, p.body)
	}
	if p := roViewer.get("/api/v1/tickets?q=walk"); p.status != 200 || !strings.Contains(p.body, "Walk ticket") {
		t.Fatalf("read-only ticket search: %d %s", p.status, p.body)
	}
}
