package accounts

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sproudstack/sproudchat/instance"
)

// User is a person who works in the instance: an admin, supervisor, agent or viewer.
type User struct {
	ID     int64
	Email  string // lower-case, unique
	Name   string
	Role   Role
	Active bool
	Locale string // "", "en" or "de"; "" follows the browser
	// TicketScope is which tickets the user may see: ScopeAll, or ScopeAssigned (only
	// those assigned to them).
	TicketScope  string
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastLoginAt  *time.Time
}

// Ticket scopes.
const (
	ScopeAll      = "all"
	ScopeAssigned = "assigned"
)

// SeesTicket tells whether the user may see a ticket with this assignee.
func (u User) SeesTicket(assignee *int64) bool {
	return u.TicketScope != ScopeAssigned || assignee != nil && *assignee == u.ID
}

// Locales the UI is translated into.
var Locales = []string{"en", "de"}

// NormalizeEmail trims and lower-cases an address.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func checkEmail(p instance.Fields, field, email string) {
	switch {
	case email == "":
		p.Add(field, "required", "is required")
	case len(email) > 254:
		p.Add(field, "too_long", "is longer than %d characters", 254)
	default:
		a, err := mail.ParseAddress(email)
		if err != nil || a.Address != email || a.Name != "" || !strings.Contains(email[strings.LastIndexByte(email, '@'):], ".") {
			p.Add(field, "email", "is not a valid e-mail address")
		}
	}
}

func checkName(p instance.Fields, field, name string) {
	switch {
	case name == "":
		p.Add(field, "required", "is required")
	case utf8.RuneCountInString(name) > 100:
		p.Add(field, "too_long", "is longer than %d characters", 100)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		p.Add(field, "control_chars", "contains control characters")
	}
}

// commonPasswords are refused outright: they are the first guesses of any attacker.
var commonPasswords = map[string]bool{
	"1234567890": true, "0123456789": true, "password12": true, "password123": true,
	"passwort123": true, "qwertyuiop": true, "qwertzuiop": true, "1q2w3e4r5t": true,
	"iloveyou12": true, "sproudchat": true, "changeme123": true, "letmein123": true,
	"administrator": true, "1111111111": true, "abcdefghij": true, "0000000000": true,
}

// checkPassword applies the password policy: at least 10 characters, at most 1,024 bytes
// (argon2 cost stays bounded), not the e-mail address or its local part, not a common one.
func checkPassword(p instance.Fields, field, password, email string) {
	lower := strings.ToLower(password)
	local, _, _ := strings.Cut(email, "@")
	switch {
	case utf8.RuneCountInString(password) < 10:
		p.Add(field, "password_short", "must be at least %d characters long", 10)
	case len(password) > 1024:
		p.Add(field, "max_bytes", "must be at most %d bytes long", 1024)
	case email != "" && (lower == email || lower == local):
		p.Add(field, "password_is_email", "must not be the e-mail address")
	case commonPasswords[lower]:
		p.Add(field, "password_common", "is too common")
	}
}

func checkRole(p instance.Fields, field string, r Role) {
	if !r.Valid() {
		p.Add(field, "one_of_list", "must be one of %s", "admin, supervisor, agent, viewer")
	}
}

func checkLocale(p instance.Fields, field, l string) {
	if l != "" && l != "en" && l != "de" {
		p.Add(field, "locale", "must be en, de or empty (follow the browser)")
	}
}
