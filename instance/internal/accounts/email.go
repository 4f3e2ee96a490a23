package accounts

import "net/mail"

// ValidEmail tells whether s, already trimmed and lower-cased (NormalizeEmail), is a
// bare e-mail address that can go into a header and an SMTP envelope as it is: one
// address, no display name or angle brackets, no line break, at most 254 bytes. The
// contact form, the chat and bookings all check visitors' addresses with it.
func ValidEmail(s string) bool {
	if s == "" || len(s) > 254 {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}
