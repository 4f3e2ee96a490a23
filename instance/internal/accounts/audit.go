package accounts

import "time"

// Audit actions. They are stable strings: admins filter and export by them.
const (
	ActionSetup           = "setup.completed"
	ActionLogin           = "login"
	ActionLoginFailed     = "login.failed"
	ActionLogout          = "logout"
	ActionUserCreated     = "user.created"
	ActionUserUpdated     = "user.updated"
	ActionPasswordChanged = "password.changed"
	ActionTokenCreated    = "token.created"
	ActionTokenRevoked    = "token.revoked"
)

// AuditActions lists every action above; pages name each through the message
// catalogs (audit.event.<action>), and a test holds the catalogs to this list.
var AuditActions = []string{ActionSetup, ActionLogin, ActionLoginFailed, ActionLogout,
	ActionUserCreated, ActionUserUpdated, ActionPasswordChanged, ActionTokenCreated, ActionTokenRevoked}

// AuditEntry records who did what, when, and from where.
type AuditEntry struct {
	ID         int64
	At         time.Time
	ActorID    int64  // 0 when nobody was logged in
	ActorEmail string // kept as text so the entry survives the user
	Action     string
	TargetType string // "user", "token", …
	TargetID   string
	Detail     string
	IP         string
}

// AuditFilter narrows ListAudit. Zero values match everything.
type AuditFilter struct {
	Action  string
	ActorID int64 // only entries by this user
	Before  int64 // entries with a smaller ID (cursor)
	Limit   int
}
