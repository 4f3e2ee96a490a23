package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/web/page"
)

func mustPages(t *testing.T) *page.Renderer {
	p, err := loadPages(page.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSetupAndUserManagementThroughPages walks the pages as a person would: the setup
// link, the admin's workspace, adding a user by form, that user logging in.
func TestSetupAndUserManagementThroughPages(t *testing.T) {
	h := newHarness(t, harnessOptions{}, false)
	c := h.client()
	if res := c.get("/setup?token=wrong-token-0123456789"); res.status != 403 || strings.Contains(res.body, `name="password"`) {
		t.Fatalf("setup page with a wrong token: %d", res.status)
	}
	res := c.get("/setup?token=" + testSetupToken)
	if res.status != 200 || !strings.Contains(res.body, `name="password"`) {
		t.Fatalf("setup page: %d", res.status)
	}
	// A weak password is explained next to its field, and nothing is created.
	res = c.form("/setup", url.Values{"token": {testSetupToken}, "name": {"Ada"}, "email": {"ada@example.org"}, "password": {"short"}})
	if res.status != 422 || !strings.Contains(res.body, "at least 10 characters") || !strings.Contains(res.body, `value="ada@example.org"`) {
		t.Fatalf("weak setup password: %d %s", res.status, res.body)
	}
	res = c.form("/setup", url.Values{"token": {testSetupToken}, "name": {"Ada <b>Admin</b>"}, "email": {"ada@example.org"}, "password": {adminPassword}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/" {
		t.Fatalf("setup form: %d %s", res.status, res.body)
	}
	res = c.get("/")
	if res.status != 200 || !strings.Contains(res.body, "Welcome, Ada &lt;b&gt;Admin&lt;/b&gt;.") {
		t.Fatalf("home after setup: %d %s", res.status, res.body)
	}
	for _, nav := range []string{"Inbox", "Tickets", "Knowledge base", "Bookings", "Reports", "Settings"} {
		if !strings.Contains(res.body, ">"+nav+"<") {
			t.Errorf("navigation lacks %s", nav)
		}
	}
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(res.body)
	if csrf == nil {
		t.Fatal("no CSRF token in the page")
	}
	res = c.form("/settings/users", url.Values{csrfField: {csrf[1]}, "name": {"Vera Viewer"}, "email": {"vera@example.org"}, "role": {"viewer"}, "password": {"vera's password 1"}})
	if res.status != http.StatusSeeOther {
		t.Fatalf("add user by form: %d %s", res.status, res.body)
	}
	if res := c.get(res.header.Get("Location")); !strings.Contains(res.body, "User vera@example.org was created.") {
		t.Fatalf("users page after create: %s", res.body)
	}
	// Without the CSRF token the same form is refused and nothing is written.
	before := h.counts()
	res = c.do("POST", "/settings/users", "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"name": {"X"}, "email": {"x@example.org"}, "role": {"admin"}, "password": {"x's password 12"}}.Encode()), nil)
	if res.status != 400 || before["users"] != h.counts()["users"] {
		t.Fatalf("form without CSRF: %d", res.status)
	}

	// The viewer sees the workspace in German, without admin controls.
	v := h.client()
	res = v.do("GET", "/login", "", nil, map[string]string{"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
	if !strings.Contains(res.body, "Anmelden") || res.header.Get("Content-Language") != "de" {
		t.Fatalf("login page in German: %s", res.body)
	}
	res = v.form("/login", url.Values{"email": {"vera@example.org"}, "password": {"vera's password 1"}, "next": {"/settings/users"}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/settings/users" {
		t.Fatalf("viewer login: %d %s", res.status, res.header.Get("Location"))
	}
	res = v.do("GET", "/settings/users", "", nil, map[string]string{"Accept-Language": "de"})
	if res.status != 200 || !strings.Contains(res.body, "Benutzer") || strings.Contains(res.body, "Benutzer anlegen") {
		t.Fatalf("users page for a German viewer: %d", res.status)
	}
	if res := v.get("/settings/audit"); res.status != 403 || !strings.Contains(res.body, "permission") {
		t.Fatalf("audit page for a viewer: %d", res.status)
	}
	// The user's own language setting wins over the browser's.
	vc := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(res.body)
	v.form("/account/profile", url.Values{csrfField: {vc[1]}, "name": {"Vera Viewer"}, "locale": {"de"}})
	if res := v.get("/account"); !strings.Contains(res.body, "Mein Konto") {
		t.Fatalf("account page after choosing German: %s", res.body)
	}
	// An open redirect through ?next is not possible.
	w := h.client()
	res = w.form("/login", url.Values{"email": {"vera@example.org"}, "password": {"vera's password 1"}, "next": {"//evil.example/x"}})
	if res.header.Get("Location") != "/" {
		t.Fatalf("next=//evil.example led to %q", res.header.Get("Location"))
	}
}

func TestTokenShownOnceOnThePage(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	c := h.loggedIn(accounts.RoleAgent)
	res := c.form("/account/tokens", url.Values{"name": {"my script"}})
	m := regexp.MustCompile(`<code id="new-token">(spc_[A-Za-z0-9_-]+)</code>`).FindStringSubmatch(res.body)
	if res.status != 201 || m == nil {
		t.Fatalf("create token by form: %d", res.status)
	}
	b := h.client()
	b.bearer = m[1]
	if res := b.get("/api/v1/me"); res.status != 200 || !strings.Contains(res.body, "agent@example.org") {
		t.Fatalf("the shown token does not work: %d", res.status)
	}
	if res := c.get("/account"); strings.Contains(res.body, m[1]) || !strings.Contains(res.body, "my script") {
		t.Fatal("the account page shows the token again, or not its name")
	}
	// A page route never accepts the Bearer token: pages are for browsers.
	if res := b.get("/account"); !isLoginRedirect(res) {
		t.Fatalf("a bearer token opened a page: %d", res.status)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	for _, base := range []string{"http://127.0.0.1", "https://acme.sproud.chat"} {
		h := newHarness(t, harnessOptions{baseURL: base}, true)
		res := h.client().do("POST", "/api/v1/session", "application/json",
			strings.NewReader(`{"email":"admin@example.org","password":"`+adminPassword+`"}`), map[string]string{"Origin": ""})
		cookies := (&http.Response{Header: res.header}).Cookies()
		if res.status != 200 || len(cookies) != 1 {
			t.Fatalf("%s: login %d, cookies %v", base, res.status, cookies)
		}
		ck := cookies[0]
		https := strings.HasPrefix(base, "https")
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure != https || ck.Path != "/" || ck.MaxAge != 7*24*3600 {
			t.Errorf("%s: cookie %+v; want HttpOnly, SameSite=Lax, Secure=%v, Max-Age one week", base, ck, https)
		}
		if https != strings.HasPrefix(ck.Name, "__Host-") {
			t.Errorf("%s: cookie name %q", base, ck.Name)
		}
	}
}
