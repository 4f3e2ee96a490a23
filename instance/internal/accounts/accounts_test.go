package accounts

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/platform/clock"
)

func TestPasswordHashRoundTripWithDefaultParams(t *testing.T) {
	h, err := HashPassword("correct horse battery", DefaultHashParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id with the default parameters", h)
	}
	if ok, err := VerifyPassword(h, "correct horse battery"); !ok || err != nil {
		t.Fatalf("right password: %v, %v", ok, err)
	}
	if ok, _ := VerifyPassword(h, "correct horse batterY"); ok {
		t.Fatal("a wrong password verified")
	}
	h2, _ := HashPassword("correct horse battery", DefaultHashParams)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=x$a$b", "$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaA"} {
		t.Run(bad, func(t *testing.T) {
			t.Parallel()
			if _, err := VerifyPassword(bad, "x"); err == nil {
				t.Errorf("malformed hash %q verified without error", bad)
			}
		})
	}
}

func TestValidationRules(t *testing.T) {
	cases := []struct {
		name, email, password string
		field                 string // "" = valid
	}{
		{"Ada", "ada@example.org", "long enough pw", ""},
		{"", "ada@example.org", "long enough pw", "name"},
		{"Ada\x00", "ada@example.org", "long enough pw", "name"},
		{strings.Repeat("a", 101), "ada@example.org", "long enough pw", "name"},
		{"Ada", "ada", "long enough pw", "email"},
		{"Ada", "Ada <ada@example.org>", "long enough pw", "email"},
		{"Ada", "ada@localhost", "long enough pw", "email"},
		{"Ada", "ada@example.org", "ninechars", "password"},
		{"Ada", "ada@example.org", "ada@example.org", "password"},
		{"Ada", "adalovelace@example.org", "AdaLovelace", "password"},
		{"Ada", "ada@example.org", "1234567890", "password"},
		{"Ada", "ada@example.org", strings.Repeat("x", 1025), "password"},
		{"Ada", "ada@example.org", "ümlautpässwörd", ""},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%.20q %.30q %.20q", tc.name, tc.email, tc.password), func(t *testing.T) {
			t.Parallel()
			p := instance.Fields{}
			checkName(p, "name", tc.name)
			checkEmail(p, "email", tc.email)
			checkPassword(p, "password", tc.password, tc.email)
			switch {
			case tc.field == "" && len(p) > 0:
				t.Errorf("%q/%q/%q: unexpected problems %v", tc.name, tc.email, tc.password, p)
			case tc.field != "" && (len(p) != 1 || p[tc.field].Code == ""):
				t.Errorf("%q/%q/%q: problems %v, want one for %s", tc.name, tc.email, tc.password, p, tc.field)
			}
		})
	}
}

func TestRolesHoldTheirPermissions(t *testing.T) {
	cases := []struct {
		role Role
		can  []Permission
		not  []Permission
	}{
		{RoleAdmin, []Permission{UsersManage, SettingsManage, AuditRead, TicketsWrite, KBEdit}, nil},
		{RoleSupervisor, []Permission{TicketsWrite, KBEdit, StatsRead, PrivacyExport}, []Permission{UsersManage, SettingsManage, AuditRead}},
		{RoleAgent, []Permission{TicketsWrite, ChatAnswer, BookingManage}, []Permission{UsersManage, KBEdit, StatsRead, PrivacyExport, AuditRead}},
		{RoleViewer, []Permission{TicketsRead, ChatRead, StatsRead}, []Permission{TicketsWrite, ChatAnswer, KBEdit, BookingManage, UsersManage}},
	}
	for _, tc := range cases {
		t.Run(string(tc.role), func(t *testing.T) {
			t.Parallel()
			for _, p := range tc.can {
				if !tc.role.Can(p) {
					t.Errorf("%s cannot %s", tc.role, p)
				}
			}
			for _, p := range tc.not {
				if tc.role.Can(p) {
					t.Errorf("%s can %s", tc.role, p)
				}
			}
			if !tc.role.Can(Authenticated) || !tc.role.Can(Public) {
				t.Errorf("%s lacks the pseudo-permissions", tc.role)
			}
		})
	}
	if Role("owner").Can(Authenticated) {
		t.Error("an unknown role is authenticated")
	}
}

func TestThrottleSlidingWindow(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	th := newThrottle(clk, ThrottleOptions{Window: 10 * time.Minute, PerAccount: 3, PerIP: 5})
	for i := 0; i < 3; i++ {
		if _, w := th.reserve("a@example.org", "10.0.0.1"); w != 0 {
			t.Fatalf("attempt %d throttled", i)
		}
		clk.Advance(time.Minute)
	}
	if _, w := th.reserve("a@example.org", "10.0.0.1"); w != 7*time.Minute {
		t.Fatalf("wait %s, want 7m (first failure leaves the window then)", w)
	}
	f, w := th.reserve("b@example.org", "10.0.0.1")
	if w != 0 {
		t.Fatal("the address is throttled before its own limit")
	}
	f.cancel()
	for i := 0; i < 2; i++ {
		if _, w := th.reserve("c@example.org", "10.0.0.1"); w != 0 {
			t.Fatalf("c's attempt %d throttled", i)
		}
	}
	if _, w := th.reserve("d@example.org", "10.0.0.1"); w == 0 {
		t.Fatal("the address passed its limit of 5 across accounts (a cancelled reservation still counted, or a refused one)")
	}
	clk.Advance(7 * time.Minute)
	f, w = th.reserve("a@example.org", "10.0.0.2")
	if w != 0 {
		t.Fatalf("still throttled after the window: %s", w)
	}
	th.succeeded(f, "a@example.org")
	for i := 0; i < 3; i++ {
		if _, w := th.reserve("a@example.org", "10.0.0.2"); w != 0 {
			t.Fatalf("a success kept earlier failures: attempt %d throttled", i)
		}
	}
}

// TestThrottleCountsAnIPv6NetworkAsOneAddress: failed logins from different addresses
// of one /64 count against one address limit; the next /64 has its own.
func TestThrottleCountsAnIPv6NetworkAsOneAddress(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	th := newThrottle(clk, ThrottleOptions{Window: 10 * time.Minute, PerAccount: 100, PerIP: 3})
	for i, ip := range []string{"2001:db8:5:1::1", "2001:db8:5:1::2", "2001:db8:5:1:a:b:c:d"} {
		if _, w := th.reserve("a@example.org", ip); w != 0 {
			t.Fatalf("attempt %d from %s throttled", i, ip)
		}
	}
	if _, w := th.reserve("b@example.org", "2001:db8:5:1:ffff::9"); w == 0 {
		t.Fatal("a fourth address of the same /64 passed the limit of 3 per address")
	}
	if _, w := th.reserve("b@example.org", "2001:db8:5:2::1"); w != 0 {
		t.Fatal("the next /64 is throttled too")
	}
}
