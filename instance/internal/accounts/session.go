package accounts

import "time"

// Session is a browser login. Only the hash of its token is stored.
type Session struct {
	Hash      string
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
	IP        string
	UserAgent string
}

// APIToken is a personal token for scripts. Only its hash is stored; Prefix is the
// first characters, shown so people can tell their tokens apart.
type APIToken struct {
	ID         int64
	UserID     int64
	Name       string
	Prefix     string
	Hash       string
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// Principal is who makes a request: a user, by session or by API token.
type Principal struct {
	User        User
	SessionHash string // set for a cookie login
	TokenID     int64  // set for a Bearer token
	CSRFToken   string // set for a cookie login: what mutating requests must echo
}

// ViaSession tells whether the principal authenticated with the session cookie, and so
// must prove each mutating request with the CSRF token.
func (p Principal) ViaSession() bool { return p.SessionHash != "" }

// Can tells whether the principal may do p.
func (p Principal) Can(perm Permission) bool { return p.User.Active && p.User.Role.Can(perm) }

// Meta is where a request came from, for the audit log.
type Meta struct {
	IP        string
	UserAgent string
}
