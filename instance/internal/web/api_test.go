package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
)

func TestSetupTokenWorksOnce(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		h := newHarness(t, harnessOptions{dialect: d}, false)
		c := h.client()
		body := map[string]string{"token": "not-the-token-0123456789", "name": "Ada", "email": "ada@example.org", "password": "long enough password"}
		if res := c.json("POST", "/api/v1/setup", body); res.status != http.StatusForbidden {
			t.Fatalf("wrong token: %d %s", res.status, res.body)
		}
		body["token"] = testSetupToken
		res := c.json("POST", "/api/v1/setup", body)
		if res.status != http.StatusCreated {
			t.Fatalf("setup: %d %s", res.status, res.body)
		}
		body["email"] = "eve@example.org"
		if res := c.json("POST", "/api/v1/setup", body); res.status != http.StatusGone {
			t.Fatalf("second use of the token: %d %s, want 410", res.status, res.body)
		}
		if res := c.get("/setup?token=" + testSetupToken); res.status != 200 || strings.Contains(res.body, `name="password"`) {
			t.Fatalf("setup page after setup: %d, still offers the form", res.status)
		}
		c.login("ada@example.org", "long enough password")
		var users struct{ Items []userJSON }
		c.get("/api/v1/users").decode(t, &users)
		if len(users.Items) != 1 || users.Items[0].Role != "admin" {
			t.Fatalf("users after setup: %+v", users.Items)
		}
	})
}

// TestBadInputIsRefusedAndWritesNothing sends every kind of bad request to a mutating
// API route and checks the status, the problem document and that no row changed.
func TestBadInputIsRefusedAndWritesNothing(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	admin := h.loggedIn(accounts.RoleAdmin)
	valid := `{"name":"New Person","email":"new@example.org","role":"agent","password":"a good password"}`
	cases := []struct {
		name, body, ct string
		hdr            map[string]string
		status         int
		field          string
	}{
		{"malformed JSON", `{"name": "x",`, "application/json", nil, 400, ""},
		{"not an object", `["x"]`, "application/json", nil, 400, ""},
		{"two objects", valid + valid, "application/json", nil, 400, ""},
		{"unknown field", `{"name":"New Person","email":"new@example.org","role":"agent","password":"a good password","is_admin":true}`, "application/json", nil, 400, ""},
		{"wrong type", `{"name":42}`, "application/json", nil, 400, ""},
		{"body over 1 MiB", `{"name":"` + strings.Repeat("x", 1<<20) + `"}`, "application/json", nil, 413, ""},
		{"not JSON", `name=x`, "application/x-www-form-urlencoded", nil, 415, ""},
		{"invalid e-mail", `{"name":"New Person","email":"not-an-email","role":"agent","password":"a good password"}`, "application/json", nil, 422, "email"},
		{"weak password", `{"name":"New Person","email":"new@example.org","role":"agent","password":"short"}`, "application/json", nil, 422, "password"},
		{"password is the e-mail", `{"name":"New Person","email":"new@example.org","role":"agent","password":"new@example.org"}`, "application/json", nil, 422, "password"},
		{"unknown role", `{"name":"New Person","email":"new@example.org","role":"owner","password":"a good password"}`, "application/json", nil, 422, "role"},
		{"missing CSRF token", valid, "application/json", map[string]string{csrfHeader: ""}, 400, ""},
		{"wrong CSRF token", valid, "application/json", map[string]string{csrfHeader: "forged"}, 403, ""},
		{"cross-site origin", valid, "application/json", map[string]string{"Origin": "https://evil.example"}, 403, ""},
	}
	before := h.counts()
	for _, tc := range cases {
		res := admin.do("POST", "/api/v1/users", tc.ct, strings.NewReader(tc.body), tc.hdr)
		if res.status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, res.status, res.body, tc.status)
			continue
		}
		p := res.problem(t)
		if tc.field != "" && p.Errors[tc.field] == "" {
			t.Errorf("%s: problem %+v names no error for %s", tc.name, p, tc.field)
		}
	}
	if after := h.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("bad requests changed the database: %v → %v", before, after)
	}
	// The same valid body goes through: the cases failed for their flaw alone.
	if res := admin.do("POST", "/api/v1/users", "application/json", strings.NewReader(valid), nil); res.status != http.StatusCreated || res.header.Get("Location") == "" {
		t.Fatalf("valid create: %d %s", res.status, res.body)
	}
	// A form over the limit is refused too.
	big := url.Values{"name": {strings.Repeat("x", 1<<20)}}
	if res := admin.form("/settings/users", big); res.status != http.StatusRequestEntityTooLarge {
		t.Errorf("form over the limit: %d", res.status)
	}
	// An unknown id is 404, a malformed one too.
	for _, p := range []string{"/api/v1/users/424242", "/api/v1/users/abc"} {
		if res := admin.get(p); res.status != 404 {
			t.Errorf("GET %s: %d, want 404", p, res.status)
		} else {
			res.problem(t)
		}
	}
}

func TestLastAdminCannotBeDemoted(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	admin := h.loggedIn(accounts.RoleAdmin)
	res := admin.json("PATCH", fmt.Sprintf("/api/v1/users/%d", h.users[accounts.RoleAdmin].ID), map[string]any{"role": "agent"})
	if res.status != http.StatusConflict {
		t.Fatalf("demoting the last admin: %d %s", res.status, res.body)
	}
	res.problem(t)
}

// TestLoginThrottle: repeated wrong passwords get 429 with Retry-After, even for the
// right password, and the account works again once the window has passed.
func TestLoginThrottle(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	c := h.client()
	email := h.users[accounts.RoleAgent].Email
	for i := 0; i < accounts.DefaultThrottle.PerAccount; i++ {
		if res := c.json("POST", "/api/v1/session", map[string]string{"email": email, "password": "wrong password!"}); res.status != 401 {
			t.Fatalf("wrong password %d: %d", i, res.status)
		}
	}
	res := c.json("POST", "/api/v1/session", map[string]string{"email": email, "password": passwordOf(accounts.RoleAgent)})
	if res.status != http.StatusTooManyRequests {
		t.Fatalf("after %d failures: %d, want 429", accounts.DefaultThrottle.PerAccount, res.status)
	}
	res.problem(t)
	if ra := res.header.Get("Retry-After"); ra != "900" {
		t.Fatalf("Retry-After %q, want 900", ra)
	}
	// Another account from another address is not affected.
	other := h.client()
	if res := other.do("POST", "/api/v1/session", "application/json", strings.NewReader(
		`{"email":"viewer@example.org","password":"viewer password 42"}`), map[string]string{"X-Forwarded-For": "10.1.2.3"}); res.status != 200 {
		t.Fatalf("another account: %d", res.status)
	}
	// The page says so too.
	if res := c.form("/login", url.Values{"email": {email}, "password": {"x"}}); res.status != 429 || !strings.Contains(res.body, "Too many failed attempts") {
		t.Fatalf("login page while throttled: %d", res.status)
	}
	h.clock.Advance(accounts.DefaultThrottle.Window + time.Second)
	c.login(email, passwordOf(accounts.RoleAgent))
	var entries struct{ Items []auditJSON }
	h.loggedIn(accounts.RoleAdmin).get("/api/v1/audit?action=login.failed").decode(t, &entries)
	if len(entries.Items) != accounts.DefaultThrottle.PerAccount || entries.Items[0].ActorEmail != email {
		t.Fatalf("audit has %d failed logins, want %d for %s", len(entries.Items), accounts.DefaultThrottle.PerAccount, email)
	}
}

// TestNoSecretInDatabaseOrLogs runs the flows that handle secrets with the real argon2
// parameters, then searches every table and every log line for them.
func TestNoSecretInDatabaseOrLogs(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		h := newHarness(t, harnessOptions{dialect: d, hash: accounts.DefaultHashParams}, false)
		c := h.client()
		c.get("/setup?token=" + testSetupToken)
		res := c.json("POST", "/api/v1/setup", map[string]string{"token": testSetupToken, "name": "Ada", "email": "ada@example.org", "password": adminPassword})
		if res.status != 201 {
			t.Fatalf("setup: %d %s", res.status, res.body)
		}
		c.login("ada@example.org", adminPassword)
		var cookie string
		for _, ck := range c.http.Jar.Cookies(mustURL(h.http.URL)) {
			cookie = ck.Value
		}
		var tok tokenJSON
		c.json("POST", "/api/v1/tokens", map[string]string{"name": "ci"}).decode(t, &tok)
		newPassword := "a brand new password 7"
		if res := c.json("PUT", "/api/v1/me/password", map[string]string{"current_password": adminPassword, "new_password": newPassword}); res.status != 204 {
			t.Fatalf("change password: %d %s", res.status, res.body)
		}
		c.json("POST", "/api/v1/session", map[string]string{"email": "ada@example.org", "password": "wrong and secret pw"})
		bearer := h.client()
		bearer.bearer = tok.Token
		if res := bearer.get("/api/v1/users"); res.status != 200 {
			t.Fatalf("bearer token: %d", res.status)
		}
		secrets := map[string]string{"password": adminPassword, "new password": newPassword, "wrong password": "wrong and secret pw",
			"API token": tok.Token, "session cookie": cookie, "setup token": testSetupToken, "CSRF token": c.csrf}
		dump := dumpDatabase(t, h.db)
		logs := h.logs.String()
		if !strings.Contains(logs, `"path":"/api/v1/users"`) || !strings.Contains(dump, "$argon2id$") {
			t.Fatal("the log or the dump is empty: the search below would prove nothing")
		}
		for what, s := range secrets {
			if s == "" {
				t.Fatalf("%s is empty", what)
			}
			if strings.Contains(dump, s) {
				t.Errorf("the %s is stored in clear", what)
			}
			if strings.Contains(logs, s) {
				t.Errorf("the %s appears in the log", what)
			}
		}
	})
}

func dumpDatabase(t *testing.T, db *store.DB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"users", "sessions", "api_tokens", "audit_log", "meta", "schema_migrations"} {
		var rows []map[string]any
		if err := db.Gorm().Table(table).Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(rows)
		b.Write(j)
	}
	return b.String()
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
