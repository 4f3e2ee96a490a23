package accounts_test

import (
	"strings"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

func TestValidEmail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"rita@example.org", true},
		{"rita.m+support@mail.example.co.uk", true},
		{"jürgen@müller.example", true},
		{"", false},
		{"rita", false},
		{"rita@", false},
		{"@example.org", false},
		{"rita@example.org\r\nBcc: evil@example.net", false},
		{"rita@example.org\nBcc: evil@example.net", false},
		{"rita@example.org\rX: y", false},
		{"\"ri\r\nta\"@example.org", false},
		{"Rita <rita@example.org>", false},
		{"<rita@example.org>", false},
		{"rita@example.org, evil@example.net", false},
		{"rita@example.org evil@example.net", false},
		{"(comment) rita@example.org", false},
		{strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".org", false}, // 255 bytes
		{strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".org", true},  // 254 bytes
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := accounts.ValidEmail(tc.in); got != tc.want {
				t.Errorf("ValidEmail(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
