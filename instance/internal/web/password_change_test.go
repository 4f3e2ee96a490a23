package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

// passwordIs tells whether role's user has password now: checked against the stored
// hash, which neither counts as a login nor meets the login throttle.
func (h *harness) passwordIs(role accounts.Role, password string) bool {
	h.t.Helper()
	u, err := h.svc.FindUser(h.t.Context(), h.users[role].ID)
	if err != nil {
		h.t.Fatal(err)
	}
	ok, err := accounts.VerifyPassword(u.PasswordHash, password)
	if err != nil {
		h.t.Fatal(err)
	}
	return ok
}

// TestChangePasswordIsThrottled: wrong current passwords count as failed logins of the
// account; the sixth attempt is refused with 429 problem+json and Retry-After before any
// check, even with the right password, and nothing changes. After the window the right
// password changes it.
func TestChangePasswordIsThrottled(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	c := h.loggedIn(accounts.RoleAgent)
	change := func(current string) response {
		t.Helper()
		return c.json("PUT", "/api/v1/me/password", map[string]string{"current_password": current, "new_password": "a brand new password"})
	}
	for i := range accounts.DefaultThrottle.PerAccount {
		r := change(fmt.Sprintf("wrong password %d", i))
		if r.status != http.StatusUnprocessableEntity || r.problem(t).Errors["current_password"] == "" {
			t.Fatalf("wrong current password %d: %d %s, want 422 naming current_password", i+1, r.status, r.body)
		}
	}
	for _, current := range []string{"wrong password again", passwordOf(accounts.RoleAgent)} {
		r := change(current)
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("attempt after %d wrong ones: %d %s, want 429", accounts.DefaultThrottle.PerAccount, r.status, r.body)
		}
		r.problem(t)
		if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	if !h.passwordIs(accounts.RoleAgent, passwordOf(accounts.RoleAgent)) {
		t.Fatal("the password changed while throttled")
	}
	h.clock.Advance(accounts.DefaultThrottle.Window)
	if r := change(passwordOf(accounts.RoleAgent)); r.status != http.StatusNoContent {
		t.Fatalf("right password after the window: %d %s", r.status, r.body)
	}
	if !h.passwordIs(accounts.RoleAgent, "a brand new password") {
		t.Fatal("the password did not change")
	}
}

// TestChangePasswordIsThrottledInParallel: 100 wrong current passwords sent at once
// from one session check exactly the throttle's 5; the rest are refused without a hash,
// so none meets a full hash gate (503).
func TestChangePasswordIsThrottledInParallel(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	c := h.loggedIn(accounts.RoleAgent)
	cookies := c.http.Jar.Cookies(mustURL(h.http.URL))
	got := h.parallel(100, func(i int) *http.Request {
		req := h.request("PUT", "/api/v1/me/password", "application/json",
			fmt.Sprintf(`{"current_password":"wrong password %d","new_password":"a brand new password"}`, i), map[string]string{csrfHeader: c.csrf})
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		return req
	})
	want := map[int]int{422: accounts.DefaultThrottle.PerAccount, 429: 100 - accounts.DefaultThrottle.PerAccount}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("answers by status (-want +got):\n%s", diff)
	}
	if !h.passwordIs(accounts.RoleAgent, passwordOf(accounts.RoleAgent)) {
		t.Fatal("the password changed")
	}
}

// TestChangePasswordPageWhenThrottled: the account page says so in the user's
// language, with Retry-After, and shows the form again.
func TestChangePasswordPageWhenThrottled(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	for _, tc := range []struct {
		role       accounts.Role
		lang, text string
	}{
		{accounts.RoleSupervisor, "en", "Too many wrong passwords. Your password was not changed; please try again in 15 minutes."},
		{accounts.RoleViewer, "de", "Zu viele falsche Passwörter. Ihr Passwort wurde nicht geändert; bitte versuchen Sie es in 15 Minuten erneut."},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			c := h.loggedIn(tc.role)
			if r := c.json("PATCH", "/api/v1/me", map[string]string{"locale": tc.lang}); r.status != http.StatusOK {
				t.Fatalf("set language: %d %s", r.status, r.body)
			}
			post := func() response {
				t.Helper()
				return c.form("/account/password", url.Values{"current_password": {"wrong password"}, "new_password": {"a brand new password"}})
			}
			for i := range accounts.DefaultThrottle.PerAccount {
				if r := post(); r.status != http.StatusUnprocessableEntity {
					t.Fatalf("wrong password %d: %d", i+1, r.status)
				}
			}
			r := post()
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
				t.Fatalf("sixth attempt: %d, Retry-After %q; want 429 with Retry-After", r.status, r.header.Get("Retry-After"))
			}
			if !strings.Contains(r.body, tc.text) || !strings.Contains(r.body, `name="current_password"`) {
				t.Fatalf("the page lacks %q or the form:\n%s", tc.text, r.body)
			}
			if !h.passwordIs(tc.role, passwordOf(tc.role)) {
				t.Fatal("the password changed")
			}
		})
	}
}
