package accounts

import "slices"

// Role is a named set of permissions given to a user.
type Role string

// The roles of an instance, from most to least powerful.
const (
	RoleAdmin      Role = "admin"
	RoleSupervisor Role = "supervisor"
	RoleAgent      Role = "agent"
	RoleViewer     Role = "viewer"
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleAdmin, RoleSupervisor, RoleAgent, RoleViewer}

// Valid tells whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Permission names one thing a route may require. Every route of the web layer declares
// exactly one.
type Permission string

// Pseudo-permissions for routes that need no role.
const (
	// Public routes need no login (login page, health, static files).
	Public Permission = "public"
	// Authenticated routes need a login but no particular role (own account).
	Authenticated Permission = "authenticated"
)

// The permissions of the instance. Areas added later declare theirs here and give them
// to roles in rolePermissions; the route walks then cover them without special cases.
const (
	UsersRead      Permission = "users.read"
	UsersManage    Permission = "users.manage"
	SettingsManage Permission = "settings.manage"
	AuditRead      Permission = "audit.read"
	TicketsRead    Permission = "tickets.read"
	TicketsWrite   Permission = "tickets.write"
	ChatRead       Permission = "chat.read"
	ChatAnswer     Permission = "chat.answer"
	KBRead         Permission = "kb.read"
	KBEdit         Permission = "kb.edit"
	BookingRead    Permission = "booking.read"
	BookingManage  Permission = "booking.manage"
	PrivacyExport  Permission = "privacy.export"
	StatsRead      Permission = "stats.read"
)

// rolePermissions is the one table of who may do what.
var rolePermissions = map[Role][]Permission{
	RoleAdmin: {
		UsersRead, UsersManage, SettingsManage, AuditRead,
		TicketsRead, TicketsWrite, ChatRead, ChatAnswer, KBRead, KBEdit,
		BookingRead, BookingManage, PrivacyExport, StatsRead,
	},
	RoleSupervisor: {
		UsersRead, TicketsRead, TicketsWrite, ChatRead, ChatAnswer, KBRead, KBEdit,
		BookingRead, BookingManage, PrivacyExport, StatsRead,
	},
	RoleAgent: {
		UsersRead, TicketsRead, TicketsWrite, ChatRead, ChatAnswer, KBRead,
		BookingRead, BookingManage,
	},
	RoleViewer: {
		UsersRead, TicketsRead, ChatRead, KBRead, BookingRead, StatsRead,
	},
}

// Can tells whether role r holds permission p. Public and Authenticated are held by
// every role.
func (r Role) Can(p Permission) bool {
	if p == Public || p == Authenticated {
		return r.Valid()
	}
	return slices.Contains(rolePermissions[r], p)
}

// Permissions lists what r may do.
func (r Role) Permissions() []Permission { return slices.Clone(rolePermissions[r]) }
