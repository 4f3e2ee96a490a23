package web

import (
	"net/http"

	a "github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/web/guard"
	"github.com/sproudstack/sproudchat/instance/internal/web/page"
)

// Route is one entry of the route table (see guard.Route).
type Route = guard.Route

const (
	get   = http.MethodGet
	post  = http.MethodPost
	put   = http.MethodPut
	patch = http.MethodPatch
	del   = http.MethodDelete
)

// routeTable is every route of the instance. Areas added later append theirs here.
func (s *Server) routeTable() []Route {
	return []Route{
		// Health and assets.
		{Method: get, Path: "/healthz", Perm: a.Public, Handler: s.health.healthz},
		{Method: get, Path: "/readyz", Perm: a.Public, Handler: s.health.readyz},
		{Method: get, Path: "/static/*", Perm: a.Public, Handler: static},
		{Method: get, Path: "/widget.js", Perm: a.Public, Handler: widget},

		// API: setup, session, own account.
		{Method: post, Path: "/api/v1/setup", Perm: a.Public, Handler: s.accounts.apiSetup},
		{Method: post, Path: "/api/v1/session", Perm: a.Public, ReadOnlyOK: true, Handler: s.accounts.apiLogin},
		{Method: get, Path: "/api/v1/session", Perm: a.Authenticated, Handler: s.accounts.apiSession},
		{Method: del, Path: "/api/v1/session", Perm: a.Authenticated, ReadOnlyOK: true, Handler: s.accounts.apiLogout},
		{Method: get, Path: "/api/v1/me", Perm: a.Authenticated, Handler: s.accounts.apiMe},
		{Method: patch, Path: "/api/v1/me", Perm: a.Authenticated, Handler: s.accounts.apiUpdateMe},
		{Method: put, Path: "/api/v1/me/password", Perm: a.Authenticated, Handler: s.accounts.apiChangePassword},
		{Method: get, Path: "/api/v1/me/export", Perm: a.Authenticated, Handler: s.accounts.apiExportMe},
		{Method: get, Path: "/api/v1/tokens", Perm: a.Authenticated, Handler: s.accounts.apiListTokens},
		{Method: post, Path: "/api/v1/tokens", Perm: a.Authenticated, Handler: s.accounts.apiCreateToken},
		{Method: del, Path: "/api/v1/tokens/:id", Perm: a.Authenticated, Handler: s.accounts.apiRevokeToken},

		// API: users and the audit log.
		{Method: get, Path: "/api/v1/users", Perm: a.UsersRead, Handler: s.accounts.apiListUsers},
		{Method: post, Path: "/api/v1/users", Perm: a.UsersManage, Handler: s.accounts.apiCreateUser},
		{Method: get, Path: "/api/v1/users/:id", Perm: a.UsersRead, Handler: s.accounts.apiGetUser},
		{Method: patch, Path: "/api/v1/users/:id", Perm: a.UsersManage, Handler: s.accounts.apiUpdateUser},
		{Method: get, Path: "/api/v1/audit", Perm: a.AuditRead, Handler: s.audit.apiListAudit},
		{Method: get, Path: "/api/v1/audit/export", Perm: a.AuditRead, Handler: s.audit.apiExportAudit},
		{Method: get, Path: "/api/v1/outbox", Perm: a.SettingsManage, Handler: s.audit.apiOutbox},

		// API: tickets.
		{Method: get, Path: "/api/v1/tickets", Perm: a.TicketsRead, Handler: s.tickets.apiListTickets},
		{Method: post, Path: "/api/v1/tickets", Perm: a.TicketsWrite, Handler: s.tickets.apiCreateTicket},
		{Method: get, Path: "/api/v1/tickets/:id", Perm: a.TicketsRead, Handler: s.tickets.apiGetTicket},
		{Method: patch, Path: "/api/v1/tickets/:id", Perm: a.TicketsWrite, Handler: s.tickets.apiUpdateTicket},
		{Method: post, Path: "/api/v1/tickets/:id/messages", Perm: a.TicketsWrite, Handler: s.tickets.apiAddTicketMessage},
		{Method: post, Path: "/api/v1/tickets/:id/merge", Perm: a.TicketsWrite, Handler: s.tickets.apiMergeTicket},
		{Method: get, Path: "/api/v1/tickets/:id/history", Perm: a.TicketsRead, Handler: s.tickets.apiTicketHistory},
		{Method: post, Path: "/api/v1/tickets/:id/attachments", Perm: a.TicketsWrite, MaxBody: s.tickets.uploadLimit(), Handler: s.tickets.apiUploadAttachment},
		{Method: get, Path: "/api/v1/attachments/:id", Perm: a.TicketsRead, Handler: s.tickets.apiDownloadAttachment},

		// Public pages of the customer's site.
		{Method: get, Path: "/contact", Perm: a.Public, Handler: s.tickets.pageContact},
		{Method: post, Path: "/contact", Perm: a.Public, Handler: s.tickets.pageContactSubmit},
		{Method: get, Path: "/privacy", Perm: a.Public, Handler: s.tickets.pagePrivacy},
		{Method: get, Path: "/kb", Perm: a.Public, Handler: s.kb.pageKB},
		{Method: get, Path: "/kb/c/:slug", Perm: a.Public, Handler: s.kb.pageKBCategory},
		{Method: get, Path: "/kb/a/:slug", Perm: a.Public, Handler: s.kb.pageKBArticle},
		{Method: post, Path: "/kb/a/:slug/helpful", Perm: a.Public, Handler: s.kb.pageKBHelpful},

		// API: knowledge base.
		{Method: get, Path: "/api/v1/kb/categories", Perm: a.KBRead, Handler: s.kb.apiKBCategories},
		{Method: post, Path: "/api/v1/kb/categories", Perm: a.KBEdit, Handler: s.kb.apiKBCreateCategory},
		{Method: get, Path: "/api/v1/kb/articles", Perm: a.KBRead, Handler: s.kb.apiKBArticles},
		{Method: post, Path: "/api/v1/kb/articles", Perm: a.KBEdit, Handler: s.kb.apiKBCreateArticle},
		{Method: get, Path: "/api/v1/kb/articles/:id", Perm: a.KBRead, Handler: s.kb.apiKBArticle},
		{Method: patch, Path: "/api/v1/kb/articles/:id", Perm: a.KBEdit, Handler: s.kb.apiKBUpdateArticle},
		{Method: get, Path: "/api/v1/kb/search", Perm: a.KBRead, Handler: s.kb.apiKBSearch},

		// Chat: the widget on allowed websites, and the agents' live inbox.
		{Method: get, Path: "/api/v1/settings/chat", Perm: a.SettingsManage, Handler: s.chat.apiChatSettings},
		{Method: put, Path: "/api/v1/settings/chat", Perm: a.SettingsManage, Handler: s.chat.apiSetChatSettings},
		{Method: get, Path: "/api/v1/chat/config", Perm: a.Public, CrossOrigin: true, Handler: s.chat.apiChatConfig},
		{Method: http.MethodOptions, Path: "/api/v1/chat/conversations", Perm: a.Public, CrossOrigin: true, Handler: s.chat.chatPreflight},
		{Method: post, Path: "/api/v1/chat/conversations", Perm: a.Public, CrossOrigin: true, Handler: s.chat.apiStartChat},
		{Method: get, Path: "/api/v1/chat/ws", Perm: a.Public, CrossOrigin: true, WebSocket: true, Handler: s.chat.chatVisitorWS},
		{Method: get, Path: "/api/v1/chat/inbox", Perm: a.ChatAnswer, WebSocket: true, Handler: s.chat.chatAgentWS},
		{Method: get, Path: "/api/v1/chat/conversations", Perm: a.ChatRead, Handler: s.chat.apiListConversations},
		{Method: get, Path: "/api/v1/chat/conversations/:id", Perm: a.ChatRead, Handler: s.chat.apiGetConversation},
		{Method: post, Path: "/api/v1/chat/conversations/:id/close", Perm: a.ChatAnswer, Handler: s.chat.apiCloseConversation},
		{Method: post, Path: "/api/v1/chat/conversations/:id/reopen", Perm: a.ChatAnswer, Handler: s.chat.apiReopenConversation},
		{Method: post, Path: "/api/v1/chat/conversations/:id/ticket", Perm: a.TicketsWrite, Handler: s.chat.apiChatToTicket},
		{Method: http.MethodOptions, Path: "/api/v1/chat/transcript", Perm: a.Public, CrossOrigin: true, Handler: s.chat.chatPreflight},
		{Method: post, Path: "/api/v1/chat/transcript", Perm: a.Public, CrossOrigin: true, Handler: s.chat.apiChatTranscript},
		{Method: http.MethodOptions, Path: "/api/v1/chat/offline", Perm: a.Public, CrossOrigin: true, Handler: s.chat.chatPreflight},
		{Method: post, Path: "/api/v1/chat/offline", Perm: a.Public, CrossOrigin: true, Handler: s.chat.apiChatOffline},
		{Method: post, Path: "/api/v1/chat/attachments", Perm: a.Public, CrossOrigin: true, MaxBody: s.tickets.uploadLimit(), Handler: s.chat.apiVisitorUpload},
		{Method: post, Path: "/api/v1/chat/attachments/:id", Perm: a.Public, CrossOrigin: true, ReadOnlyOK: true, Handler: s.chat.apiVisitorDownload},
		{Method: get, Path: "/api/v1/chat/attachments/:id", Perm: a.ChatRead, Handler: s.chat.apiAgentDownload},
		{Method: post, Path: "/api/v1/chat/conversations/:id/attachments", Perm: a.ChatAnswer, MaxBody: s.tickets.uploadLimit(), Handler: s.chat.apiAgentUpload},
		{Method: post, Path: "/api/v1/chat/conversations/:id/assign", Perm: a.ChatAnswer, Handler: s.chat.apiAssignConversation},
		{Method: post, Path: "/api/v1/chat/conversations/:id/read", Perm: a.ChatAnswer, Handler: s.chat.apiReadConversation},
		{Method: get, Path: "/api/v1/chat/agents", Perm: a.ChatRead, Handler: s.chat.apiChatAgents},
		{Method: put, Path: "/api/v1/chat/agents/:id", Perm: a.SettingsManage, Handler: s.chat.apiSetAgent},
		{Method: put, Path: "/api/v1/chat/presence", Perm: a.ChatAnswer, ReadOnlyOK: true, Handler: s.chat.apiSetPresence},
		{Method: get, Path: "/api/v1/chat/canned", Perm: a.ChatRead, Handler: s.chat.apiListCanned},
		{Method: post, Path: "/api/v1/chat/canned", Perm: a.SettingsManage, Handler: s.chat.apiCreateCanned},
		{Method: del, Path: "/api/v1/chat/canned/:id", Perm: a.SettingsManage, Handler: s.chat.apiDeleteCanned},

		// Booking: the public portal, and the agents' calendar.
		{Method: get, Path: "/book", Perm: a.Public, Handler: s.booking.pageBookTypes},
		{Method: get, Path: "/book/:slug", Perm: a.Public, Handler: s.booking.pageBookType},
		{Method: post, Path: "/book/:slug", Perm: a.Public, Handler: s.booking.pageBookSubmit},
		{Method: get, Path: "/book/manage/:token", Perm: a.Public, Handler: s.booking.pageBookManage},
		{Method: post, Path: "/book/manage/:token/cancel", Perm: a.Public, Handler: s.booking.pageBookCancel},
		{Method: post, Path: "/book/manage/:token/reschedule", Perm: a.Public, Handler: s.booking.pageBookReschedule},
		{Method: get, Path: "/api/v1/booking/types", Perm: a.BookingRead, Handler: s.booking.apiBookingTypes},
		{Method: post, Path: "/api/v1/booking/types", Perm: a.SettingsManage, Handler: s.booking.apiCreateBookingType},
		{Method: patch, Path: "/api/v1/booking/types/:id", Perm: a.SettingsManage, Handler: s.booking.apiUpdateBookingType},
		{Method: get, Path: "/api/v1/booking/types/:id/slots", Perm: a.Public, Handler: s.booking.apiBookingSlots},
		{Method: get, Path: "/api/v1/booking/hours/:id", Perm: a.BookingRead, Handler: s.booking.apiBookingHours},
		{Method: put, Path: "/api/v1/booking/hours/:id", Perm: a.BookingManage, Handler: s.booking.apiSetBookingHours},
		{Method: get, Path: "/api/v1/booking/days-off", Perm: a.BookingRead, Handler: s.booking.apiDaysOff},
		{Method: post, Path: "/api/v1/booking/days-off", Perm: a.SettingsManage, Handler: s.booking.apiAddDayOff},
		{Method: del, Path: "/api/v1/booking/days-off/:id", Perm: a.SettingsManage, Handler: s.booking.apiDeleteDayOff},
		{Method: get, Path: "/api/v1/settings/booking", Perm: a.SettingsManage, Handler: s.booking.apiBookingSettings},
		{Method: put, Path: "/api/v1/settings/booking", Perm: a.SettingsManage, Handler: s.booking.apiSetBookingSettings},
		{Method: get, Path: "/api/v1/bookings", Perm: a.BookingRead, Handler: s.booking.apiBookings},
		{Method: post, Path: "/api/v1/bookings", Perm: a.BookingManage, Handler: s.booking.apiCreateBooking},
		{Method: get, Path: "/api/v1/bookings/:id", Perm: a.BookingRead, Handler: s.booking.apiGetBooking},
		{Method: post, Path: "/api/v1/bookings/:id/cancel", Perm: a.BookingManage, Handler: s.booking.apiCancelBooking},

		// Notifications: where the team hears of events.
		{Method: get, Path: "/api/v1/notifications/targets", Perm: a.SettingsManage, Handler: s.notify.apiListTargets},
		{Method: post, Path: "/api/v1/notifications/targets", Perm: a.SettingsManage, Handler: s.notify.apiCreateTarget},
		{Method: get, Path: "/api/v1/notifications/targets/:id", Perm: a.SettingsManage, Handler: s.notify.apiGetTarget},
		{Method: patch, Path: "/api/v1/notifications/targets/:id", Perm: a.SettingsManage, Handler: s.notify.apiUpdateTarget},
		{Method: del, Path: "/api/v1/notifications/targets/:id", Perm: a.SettingsManage, Handler: s.notify.apiDeleteTarget},
		{Method: post, Path: "/api/v1/notifications/targets/:id/test", Perm: a.SettingsManage, Handler: s.notify.apiTestTarget},
		{Method: get, Path: "/api/v1/notifications/targets/:id/log", Perm: a.SettingsManage, Handler: s.notify.apiTargetLog},
		{Method: get, Path: "/api/v1/settings/notifications", Perm: a.SettingsManage, Handler: s.notify.apiNotifySettings},
		{Method: put, Path: "/api/v1/settings/notifications", Perm: a.SettingsManage, Handler: s.notify.apiSetNotifySettings},

		// Pages: setup and login.
		{Method: get, Path: "/setup", Perm: a.Public, Handler: s.accounts.pageSetup},
		{Method: post, Path: "/setup", Perm: a.Public, Handler: s.accounts.pageSetupSubmit},
		{Method: get, Path: "/login", Perm: a.Public, Handler: s.accounts.pageLogin},
		{Method: post, Path: "/login", Perm: a.Public, ReadOnlyOK: true, Handler: s.accounts.pageLoginSubmit},
		{Method: post, Path: "/logout", Perm: a.Authenticated, ReadOnlyOK: true, Handler: s.accounts.pageLogout},

		// Pages: the agent workspace. The areas fill in as they are built.
		{Method: get, Path: "/", Perm: a.Authenticated, Handler: pageHome(s.pages)},
		{Method: get, Path: "/inbox", Perm: a.ChatRead, Handler: s.chat.pageInbox},
		{Method: get, Path: "/tickets", Perm: a.TicketsRead, Handler: s.tickets.pageTickets},
		{Method: get, Path: "/tickets/new", Perm: a.TicketsWrite, Handler: s.tickets.pageNewTicket},
		{Method: post, Path: "/tickets", Perm: a.TicketsWrite, Handler: s.tickets.pageCreateTicket},
		{Method: get, Path: "/tickets/:id", Perm: a.TicketsRead, Handler: s.tickets.pageTicket},
		{Method: post, Path: "/tickets/:id/reply", Perm: a.TicketsWrite, Handler: s.tickets.pageTicketReply},
		{Method: post, Path: "/tickets/:id/update", Perm: a.TicketsWrite, Handler: s.tickets.pageTicketUpdate},
		{Method: post, Path: "/tickets/:id/merge", Perm: a.TicketsWrite, Handler: s.tickets.pageTicketMerge},
		{Method: post, Path: "/tickets/:id/attachments", Perm: a.TicketsWrite, MaxBody: s.tickets.uploadLimit(), Handler: s.tickets.pageTicketUpload},
		{Method: get, Path: "/knowledge", Perm: a.KBRead, Handler: s.kb.pageKnowledge},
		{Method: get, Path: "/knowledge/new", Perm: a.KBEdit, Handler: s.kb.pageNewArticle},
		{Method: post, Path: "/knowledge", Perm: a.KBEdit, Handler: s.kb.pageSaveArticle},
		{Method: get, Path: "/knowledge/:id/edit", Perm: a.KBEdit, Handler: s.kb.pageEditArticle},
		{Method: post, Path: "/knowledge/:id", Perm: a.KBEdit, Handler: s.kb.pageSaveArticle},
		{Method: get, Path: "/bookings", Perm: a.BookingRead, Handler: s.booking.pageBookings},
		{Method: post, Path: "/bookings/:id/cancel", Perm: a.BookingManage, Handler: s.booking.pageCancelBooking},
		{Method: get, Path: "/settings/booking", Perm: a.BookingManage, Handler: s.booking.pageBookingSettings},
		{Method: post, Path: "/settings/booking/hours", Perm: a.BookingManage, Handler: s.booking.pageSaveMyHours},
		{Method: post, Path: "/settings/booking/config", Perm: a.SettingsManage, Handler: s.booking.pageSaveBookingConfig},
		{Method: post, Path: "/settings/booking/types", Perm: a.SettingsManage, Handler: s.booking.pageCreateBookingType},
		{Method: post, Path: "/settings/booking/types/:id/active", Perm: a.SettingsManage, Handler: s.booking.pageToggleBookingType},
		{Method: post, Path: "/settings/booking/days-off", Perm: a.SettingsManage, Handler: s.booking.pageAddDayOff},
		{Method: post, Path: "/settings/booking/days-off/:id/delete", Perm: a.SettingsManage, Handler: s.booking.pageDeleteDayOff},
		{Method: get, Path: "/reports", Perm: a.StatsRead, Handler: pageArea(s.pages, "reports")},

		// Pages: settings and own account.
		{Method: get, Path: "/settings/users", Perm: a.UsersRead, Handler: s.accounts.pageUsers},
		{Method: post, Path: "/settings/users", Perm: a.UsersManage, Handler: s.accounts.pageCreateUser},
		{Method: post, Path: "/settings/users/:id", Perm: a.UsersManage, Handler: s.accounts.pageUpdateUser},
		{Method: get, Path: "/settings/audit", Perm: a.AuditRead, Handler: s.audit.pageAudit},
		{Method: get, Path: "/settings/chat", Perm: a.SettingsManage, Handler: s.chat.pageChatSettings},
		{Method: post, Path: "/settings/chat", Perm: a.SettingsManage, Handler: s.chat.pageSaveChatSettings},
		{Method: post, Path: "/settings/chat/canned", Perm: a.SettingsManage, Handler: s.chat.pageCreateCanned},
		{Method: post, Path: "/settings/chat/canned/:id/delete", Perm: a.SettingsManage, Handler: s.chat.pageDeleteCanned},
		{Method: post, Path: "/settings/chat/agents/:id", Perm: a.SettingsManage, Handler: s.chat.pageSetAgentLimit},
		{Method: get, Path: "/settings/notifications", Perm: a.SettingsManage, Handler: s.notify.pageNotifications},
		{Method: post, Path: "/settings/notifications", Perm: a.SettingsManage, Handler: s.notify.pageCreateTarget},
		{Method: post, Path: "/settings/notifications/settings", Perm: a.SettingsManage, Handler: s.notify.pageSaveNotifySettings},
		{Method: post, Path: "/settings/notifications/:id/test", Perm: a.SettingsManage, Handler: s.notify.pageTestTarget},
		{Method: post, Path: "/settings/notifications/:id/active", Perm: a.SettingsManage, Handler: s.notify.pageToggleTarget},
		{Method: post, Path: "/settings/notifications/:id/delete", Perm: a.SettingsManage, Handler: s.notify.pageDeleteTarget},
		{Method: get, Path: "/account", Perm: a.Authenticated, Handler: s.accounts.pageAccount},
		{Method: post, Path: "/account/profile", Perm: a.Authenticated, Handler: s.accounts.pageUpdateProfile},
		{Method: post, Path: "/account/password", Perm: a.Authenticated, Handler: s.accounts.pageChangePassword},
		{Method: post, Path: "/account/tokens", Perm: a.Authenticated, Handler: s.accounts.pageCreateToken},
		{Method: post, Path: "/account/tokens/:id/revoke", Perm: a.Authenticated, Handler: s.accounts.pageRevokeToken},
	}
}

// navigation is the agent navigation: an entry is shown to those who hold its permission.
var navigation = []page.NavItem{
	{Key: "nav.inbox", Path: "/inbox", Perm: a.ChatRead},
	{Key: "nav.tickets", Path: "/tickets", Perm: a.TicketsRead},
	{Key: "nav.knowledge", Path: "/knowledge", Perm: a.KBRead},
	{Key: "nav.bookings", Path: "/bookings", Perm: a.BookingRead},
	{Key: "nav.reports", Path: "/reports", Perm: a.StatsRead},
	{Key: "nav.settings", Path: "/settings/users", Perm: a.UsersRead},
}
