package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/platform/problem"
	"github.com/sproudstack/sproudchat/platform/testkit/golden"
)

// concretePath fills a route's parameters with objects that exist: the given user, the
// harness's ticket, attachment, category and article; other ids (tokens) point nowhere.
func concretePath(h *harness, rt Route, userID int64) string {
	p := strings.ReplaceAll(rt.Path, "/users/:id", fmt.Sprintf("/users/%d", userID))
	p = strings.ReplaceAll(p, "/tickets/:id", fmt.Sprintf("/tickets/%d", h.ticket.ID))
	p = strings.ReplaceAll(p, "/book/manage/:token", "/book/manage/"+h.bookTok)
	p = strings.ReplaceAll(p, "/book/:slug", "/book/"+h.bookType.Slug)
	p = strings.ReplaceAll(p, "/booking/types/:id", fmt.Sprintf("/booking/types/%d", h.bookType.ID))
	p = strings.ReplaceAll(p, "/booking/hours/:id", fmt.Sprintf("/booking/hours/%d", userID))
	p = strings.ReplaceAll(p, "/settings/booking/types/:id", fmt.Sprintf("/settings/booking/types/%d", h.bookType.ID))
	p = strings.ReplaceAll(p, "/booking/days-off/:id", fmt.Sprintf("/booking/days-off/%d", h.dayOff))
	p = strings.ReplaceAll(p, "/bookings/:id", fmt.Sprintf("/bookings/%d", h.booking.ID))
	p = strings.ReplaceAll(p, "/settings/notifications/:id", fmt.Sprintf("/settings/notifications/%d", h.target))
	p = strings.ReplaceAll(p, "/notifications/targets/:id", fmt.Sprintf("/notifications/targets/%d", h.target))
	p = strings.ReplaceAll(p, "/chat/attachments/:id", fmt.Sprintf("/chat/attachments/%d", h.chatFile))
	p = strings.ReplaceAll(p, "/attachments/:id", fmt.Sprintf("/attachments/%d", h.attach.ID))
	p = strings.ReplaceAll(p, "/kb/c/:slug", "/kb/c/"+h.cat.Slug)
	p = strings.ReplaceAll(p, "/kb/a/:slug", "/kb/a/"+h.article.Slug)
	p = strings.ReplaceAll(p, "/kb/articles/:id", fmt.Sprintf("/kb/articles/%d", h.article.ID))
	p = strings.ReplaceAll(p, "/knowledge/:id", fmt.Sprintf("/knowledge/%d", h.article.ID))
	p = strings.ReplaceAll(p, "/chat/conversations/:id", fmt.Sprintf("/chat/conversations/%d", h.chatConv))
	if p == "/api/v1/chat/ws" {
		p += "?token=" + h.chatTok
	}
	p = strings.ReplaceAll(p, ":id", "999999")
	return strings.ReplaceAll(p, "*", "app.css")
}

// send calls a route the way its clients do: a JSON object for the API, a form for pages.
func send(c *client, rt Route, path string) response {
	if !rt.Mutating() {
		return c.do(rt.Method, path, "", nil, nil)
	}
	if rt.API() {
		return c.do(rt.Method, path, "application/json", strings.NewReader("{}"), nil)
	}
	return c.form(path, url.Values{})
}

// isLoginRedirect tells whether a page sent the caller to log in first.
func isLoginRedirect(r response) bool {
	return r.status == http.StatusSeeOther && strings.HasPrefix(r.header.Get("Location"), "/login?next=")
}

// needsLogin tells whether the response demands authentication (as opposed to, say, a
// login attempt with wrong credentials).
func needsLogin(r response) bool {
	return isLoginRedirect(r) || strings.Contains(r.body, problem.Base+"unauthenticated")
}

// TestEveryRouteDeclaresAPermission fails when a route is registered outside the table
// or without a permission.
func TestEveryRouteDeclaresAPermission(t *testing.T) {
	h := newHarness(t, harnessOptions{}, false)
	inTable := map[string]bool{}
	for _, rt := range h.server.Routes() {
		if err := rt.Check(); err != nil {
			t.Error(err)
		}
		if rt.Perm != accounts.Public && rt.Perm != accounts.Authenticated && !accounts.RoleAdmin.Can(rt.Perm) {
			t.Errorf("%s %s needs %q, which no role holds", rt.Method, rt.Path, rt.Perm)
		}
		inTable[rt.Method+" "+rt.Path] = true
	}
	for _, r := range h.server.echo.Routes() {
		if r.Path == "/*" && r.Method == "echo_route_not_found" || strings.HasPrefix(r.Method, "echo_") {
			continue
		}
		if !inTable[r.Method+" "+r.Path] {
			t.Errorf("%s %s is served but not in the route table", r.Method, r.Path)
		}
	}
	if err := (Route{Method: "GET", Path: "/x", Handler: h.server.health.healthz}).Check(); err == nil {
		t.Error("a route without a permission passed the check")
	}
}

// TestRoleRouteWalk proves for every route and role: allowed by the table → not 401/403;
// not allowed → 403; logged out → 401 (API) or a redirect to login (pages).
func TestRoleRouteWalk(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	clients := map[accounts.Role]*client{}
	for _, r := range accounts.Roles {
		clients[r] = h.loggedIn(r)
	}
	anon := h.client()
	for _, rt := range h.server.Routes() {
		name := rt.Method + " " + rt.Path
		for _, role := range accounts.Roles {
			c := clients[role]
			res := send(c, rt, concretePath(h, rt, h.users[role].ID))
			switch {
			case rt.Perm == accounts.Public:
				if needsLogin(res) || res.status == http.StatusForbidden && strings.Contains(res.body, problem.Base+"forbidden") {
					t.Errorf("%s as %s: %d, but the route is public", name, role, res.status)
				}
			case role.Can(rt.Perm):
				if res.status == http.StatusUnauthorized || res.status == http.StatusForbidden || isLoginRedirect(res) {
					t.Errorf("%s as %s: %d %s; the table allows it", name, role, res.status, res.body)
				}
			default:
				if res.status != http.StatusForbidden {
					t.Errorf("%s as %s: %d; want 403 (needs %s)", name, role, res.status, rt.Perm)
				}
				if rt.API() && res.status == http.StatusForbidden {
					res.problem(t)
				}
			}
			// Logging out is one of the routes: log back in for the next one.
			if c.get("/api/v1/session").status != http.StatusOK {
				c.login(h.users[role].Email, passwordOf(role))
			}
		}
		res := send(anon, rt, concretePath(h, rt, h.users[accounts.RoleViewer].ID))
		switch {
		case rt.Perm == accounts.Public:
			if needsLogin(res) {
				t.Errorf("%s logged out: %d, but the route is public", name, res.status)
			}
		case rt.API():
			if res.status != http.StatusUnauthorized {
				t.Errorf("%s logged out: %d, want 401", name, res.status)
			} else {
				res.problem(t)
			}
		default:
			if !isLoginRedirect(res) {
				t.Errorf("%s logged out: %d (Location %q), want a redirect to /login", name, res.status, res.header.Get("Location"))
			}
		}
	}
}

// TestReadOnlyRouteWalk proves that in read-only mode every mutating route of the table
// is refused with 423 and writes nothing, while reads, exports and login keep working.
func TestReadOnlyRouteWalk(t *testing.T) {
	h := newHarness(t, harnessOptions{readOnly: true}, true)
	admin := h.loggedIn(accounts.RoleAdmin) // logging in works while read-only
	before := h.counts()
	var refused, allowedWrites int
	for _, rt := range h.server.Routes() {
		name := rt.Method + " " + rt.Path
		if rt.Mutating() && rt.ReadOnlyOK {
			allowedWrites++
			continue
		}
		res := send(admin, rt, concretePath(h, rt, h.users[accounts.RoleAgent].ID))
		if !rt.Mutating() {
			if rt.WebSocket && res.status == http.StatusUpgradeRequired {
				continue // reachable: it only wants a WebSocket handshake
			}
			if res.status == http.StatusLocked || res.status >= 400 {
				t.Errorf("%s in read-only mode: %d %s; reads must work", name, res.status, res.body)
			}
			continue
		}
		refused++
		if res.status != http.StatusLocked {
			t.Errorf("%s in read-only mode: %d, want 423", name, res.status)
			continue
		}
		if rt.API() {
			if p := res.problem(t); !strings.Contains(p.Detail, "read-only") {
				t.Errorf("%s: problem detail %q does not say read-only", name, p.Detail)
			}
		} else if !strings.Contains(res.body, "read-only") || !strings.Contains(res.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: the 423 page does not explain the read-only mode: %s", name, res.body)
		}
	}
	if refused < 10 || allowedWrites < 3 {
		t.Fatalf("walked %d refused and %d allowed writes; the table looks truncated", refused, allowedWrites)
	}
	if after := h.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("refused requests changed the database: %v → %v", before, after)
	}

	// Exports and pages still work, and every page carries the banner.
	for _, path := range []string{"/api/v1/me/export", "/api/v1/audit/export"} {
		if res := admin.get(path); res.status != http.StatusOK || !strings.Contains(res.header.Get("Content-Disposition"), "attachment") {
			t.Errorf("export %s in read-only mode: %d", path, res.status)
		}
	}
	for _, path := range []string{"/", "/settings/users", "/settings/audit", "/account", "/inbox"} {
		if res := admin.get(path); res.status != 200 || !strings.Contains(res.body, "read-only until 2026-12-02") {
			t.Errorf("%s in read-only mode: %d, banner missing", path, res.status)
		}
	}
	if res := h.client().get("/login"); !strings.Contains(res.body, `id="readonly-banner"`) {
		t.Error("the login page has no read-only banner")
	}
	// Log in through the form and out again.
	c := h.client()
	res := c.form("/login", url.Values{"email": {"viewer@example.org"}, "password": {passwordOf(accounts.RoleViewer)}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/" {
		t.Fatalf("form login in read-only mode: %d %s", res.status, res.header.Get("Location"))
	}
	if res := c.get("/"); res.status != 200 || !strings.Contains(res.body, "viewer user") {
		t.Fatalf("home after form login: %d", res.status)
	}
}

// TestRouteTableGolden pins who may call what: any change to a route's permission,
// read-only exemption or body limit (shown where it is not the default 1 MiB) shows
// up as a diff of testdata/routes.golden to review.
func TestRouteTableGolden(t *testing.T) {
	h := newHarness(t, harnessOptions{}, false)
	var b strings.Builder
	for _, rt := range h.server.Routes() {
		ro := ""
		if rt.Mutating() && rt.ReadOnlyOK {
			ro = " read-only-ok"
		}
		if limit := h.server.guard.BodyLimit(rt); rt.Mutating() && limit != h.server.opts.MaxBodyBytes {
			ro += fmt.Sprintf(" body<=%dKiB", limit>>10)
		}
		fmt.Fprintf(&b, "%-6s %-32s %s%s\n", rt.Method, rt.Path, rt.Perm, ro)
	}
	golden.AssertString(t, "testdata/routes.golden", b.String())
}
