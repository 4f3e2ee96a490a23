package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

// TestAddressesOfOneIPv6NetworkShareALimit: addresses of one /64, as the edge router
// reports them, share the contact form's limit of 5 an hour; another /64 and an IPv4
// address have their own. The access log and the audit log keep the full address.
func TestAddressesOfOneIPv6NetworkShareALimit(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	post := func(ip string) response {
		t.Helper()
		c := h.client()
		return c.do("POST", "/contact", "application/x-www-form-urlencoded",
			strings.NewReader(contactForm("Rita", "rita@example.org", "Question", "Hello", true).Encode()), map[string]string{"X-Forwarded-For": ip})
	}
	for i, ip := range []string{"2001:db8:7:1::a", "2001:db8:7:1::b", "2001:db8:7:1:ffff::1", "2001:db8:7:1::a", "2001:db8:7:1::b"} {
		if r := post(ip); r.status != http.StatusCreated {
			t.Fatalf("post %d from %s: %d", i, ip, r.status)
		}
	}
	if r := post("2001:db8:7:1:1234:5678:9abc:def0"); r.status != http.StatusTooManyRequests {
		t.Fatalf("a sixth post from another address of the same /64: %d, want 429", r.status)
	}
	for _, ip := range []string{"2001:db8:7:2::a", "198.51.100.7"} {
		if r := post(ip); r.status != http.StatusCreated {
			t.Fatalf("post from %s (another network): %d, want 201", ip, r.status)
		}
	}

	// A failed login from one of them is recorded with its full address.
	c := h.client()
	if r := c.do("POST", "/api/v1/session", "application/json", strings.NewReader(`{"email":"agent@example.org","password":"wrong"}`),
		map[string]string{"X-Forwarded-For": "2001:db8:7:1::beef"}); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong login: %d %s", r.status, r.body)
	}
	var trail struct{ Items []auditJSON }
	h.loggedIn(accounts.RoleAdmin).get("/api/v1/audit?action=login.failed").decode(t, &trail)
	if len(trail.Items) != 1 || trail.Items[0].IP != "2001:db8:7:1::beef" {
		t.Fatalf("audit entries of the failed login: %+v, want one from 2001:db8:7:1::beef", trail.Items)
	}
	if logs := h.logs.String(); !strings.Contains(logs, `"ip":"2001:db8:7:1:1234:5678:9abc:def0"`) {
		t.Error("the access log does not show the full address of the refused post")
	}
}
