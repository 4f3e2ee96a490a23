package web

import (
	"fmt"
	"net/http"

	"golang.org/x/text/language"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

// messages holds every UI text in English and German. A test checks that both
// languages have the same keys.
var messages = map[string]map[string]string{
	"en": {
		"app.name":              "sproudchat",
		"nav.inbox":             "Inbox",
		"nav.tickets":           "Tickets",
		"nav.knowledge":         "Knowledge base",
		"nav.bookings":          "Bookings",
		"nav.reports":           "Reports",
		"nav.settings":          "Settings",
		"nav.account":           "My account",
		"nav.logout":            "Log out",
		"nav.skip":              "Skip to content",
		"settings.users":        "Users",
		"settings.audit":        "Audit log",
		"readonly.banner":       "This instance is read-only until %s. You can log in, read and export, but not change anything.",
		"readonly.banner.nod":   "This instance is read-only. You can log in, read and export, but not change anything.",
		"login.title":           "Log in",
		"login.email":           "E-mail",
		"login.password":        "Password",
		"login.submit":          "Log in",
		"login.failed":          "Wrong e-mail or password.",
		"login.throttled":       "Too many failed attempts. Try again in %d seconds.",
		"login.setup_pending":   "This instance has no admin yet. Open the setup link you received to create one.",
		"login.logged_out":      "You are logged out.",
		"setup.title":           "Create the first admin",
		"setup.intro":           "This account administers the instance: it adds your team and changes settings.",
		"setup.name":            "Your name",
		"setup.submit":          "Create admin account",
		"setup.invalid":         "This setup link is not valid. Ask for a new one.",
		"setup.done":            "Setup is complete. Log in with your admin account.",
		"field.name":            "Name",
		"field.email":           "E-mail",
		"field.role":            "Role",
		"field.password":        "Password",
		"field.password_hint":   "At least 10 characters, not your e-mail address.",
		"field.status":          "Status",
		"field.language":        "Language",
		"field.last_login":      "Last login",
		"lang.auto":             "Follow the browser",
		"lang.en":               "English",
		"lang.de":               "Deutsch",
		"role.admin":            "Admin",
		"role.supervisor":       "Supervisor",
		"role.agent":            "Agent",
		"role.viewer":           "Viewer",
		"users.title":           "Users",
		"users.add":             "Add a user",
		"users.create":          "Create user",
		"users.active":          "active",
		"users.inactive":        "deactivated",
		"users.deactivate":      "Deactivate",
		"users.reactivate":      "Reactivate",
		"users.change_role":     "Change role",
		"users.created":         "User %s was created.",
		"users.updated":         "User %s was updated.",
		"users.never":           "never",
		"audit.title":           "Audit log",
		"audit.at":              "When",
		"audit.actor":           "Who",
		"audit.action":          "What",
		"audit.detail":          "Detail",
		"audit.ip":              "From",
		"audit.export":          "Export as CSV",
		"audit.older":           "Older entries",
		"audit.empty":           "No entries yet.",
		"account.title":         "My account",
		"account.profile":       "Profile",
		"account.save":          "Save",
		"account.saved":         "Your changes were saved.",
		"account.password":      "Change password",
		"account.current":       "Current password",
		"account.new":           "New password",
		"account.changed":       "Your password was changed. Your other sessions were logged out.",
		"account.tokens":        "API tokens",
		"account.tokens_help":   "Tokens let scripts use the API as you. Send one as Authorization: Bearer <token>.",
		"account.token_name":    "Token name",
		"account.token_new":     "Create token",
		"account.token_shown":   "Copy this token now. It is shown only once:",
		"account.token_revoke":  "Revoke",
		"account.token_revoked": "The token was revoked.",
		"account.token_none":    "No tokens yet.",
		"account.token_used":    "last used",
		"account.export":        "Download my data",
		"account.export_help":   "Everything this instance stores about you as a user, as JSON.",
		"home.welcome":          "Welcome, %s.",
		"area.inbox":            "No conversations yet. Chats from your website appear here.",
		"area.tickets":          "No tickets yet. Requests from your contact form and e-mail appear here.",
		"area.knowledge":        "No articles yet. Help articles you write appear here.",
		"area.bookings":         "No bookings yet. Appointments your customers book appear here.",
		"area.reports":          "No figures yet. Reports fill in as your team works.",
		"error.title":           "Something is not right",
		"error.403":             "You do not have permission to see or do this.",
		"error.404":             "This page does not exist.",
		"error.423":             "This instance is read-only: nothing can be changed.",
		"error.back":            "Back to the start page",
		"form.fix":              "Please correct the marked fields.",
	},
	"de": {
		"app.name":              "sproudchat",
		"nav.inbox":             "Posteingang",
		"nav.tickets":           "Tickets",
		"nav.knowledge":         "Wissensdatenbank",
		"nav.bookings":          "Termine",
		"nav.reports":           "Berichte",
		"nav.settings":          "Einstellungen",
		"nav.account":           "Mein Konto",
		"nav.logout":            "Abmelden",
		"nav.skip":              "Zum Inhalt springen",
		"settings.users":        "Benutzer",
		"settings.audit":        "Protokoll",
		"readonly.banner":       "Diese Instanz ist bis %s schreibgeschützt. Sie können sich anmelden, lesen und exportieren, aber nichts ändern.",
		"readonly.banner.nod":   "Diese Instanz ist schreibgeschützt. Sie können sich anmelden, lesen und exportieren, aber nichts ändern.",
		"login.title":           "Anmelden",
		"login.email":           "E-Mail",
		"login.password":        "Passwort",
		"login.submit":          "Anmelden",
		"login.failed":          "E-Mail oder Passwort ist falsch.",
		"login.throttled":       "Zu viele Fehlversuche. Versuchen Sie es in %d Sekunden erneut.",
		"login.setup_pending":   "Diese Instanz hat noch keinen Administrator. Öffnen Sie den Einrichtungslink, den Sie erhalten haben.",
		"login.logged_out":      "Sie sind abgemeldet.",
		"setup.title":           "Ersten Administrator anlegen",
		"setup.intro":           "Dieses Konto verwaltet die Instanz: Es lädt Ihr Team ein und ändert Einstellungen.",
		"setup.name":            "Ihr Name",
		"setup.submit":          "Administratorkonto anlegen",
		"setup.invalid":         "Dieser Einrichtungslink ist ungültig. Fordern Sie einen neuen an.",
		"setup.done":            "Die Einrichtung ist abgeschlossen. Melden Sie sich mit Ihrem Administratorkonto an.",
		"field.name":            "Name",
		"field.email":           "E-Mail",
		"field.role":            "Rolle",
		"field.password":        "Passwort",
		"field.password_hint":   "Mindestens 10 Zeichen, nicht Ihre E-Mail-Adresse.",
		"field.status":          "Status",
		"field.language":        "Sprache",
		"field.last_login":      "Letzte Anmeldung",
		"lang.auto":             "Wie im Browser",
		"lang.en":               "English",
		"lang.de":               "Deutsch",
		"role.admin":            "Administrator",
		"role.supervisor":       "Teamleitung",
		"role.agent":            "Agent",
		"role.viewer":           "Lesezugriff",
		"users.title":           "Benutzer",
		"users.add":             "Benutzer hinzufügen",
		"users.create":          "Benutzer anlegen",
		"users.active":          "aktiv",
		"users.inactive":        "deaktiviert",
		"users.deactivate":      "Deaktivieren",
		"users.reactivate":      "Reaktivieren",
		"users.change_role":     "Rolle ändern",
		"users.created":         "Benutzer %s wurde angelegt.",
		"users.updated":         "Benutzer %s wurde geändert.",
		"users.never":           "nie",
		"audit.title":           "Protokoll",
		"audit.at":              "Wann",
		"audit.actor":           "Wer",
		"audit.action":          "Was",
		"audit.detail":          "Details",
		"audit.ip":              "Von",
		"audit.export":          "Als CSV exportieren",
		"audit.older":           "Ältere Einträge",
		"audit.empty":           "Noch keine Einträge.",
		"account.title":         "Mein Konto",
		"account.profile":       "Profil",
		"account.save":          "Speichern",
		"account.saved":         "Ihre Änderungen wurden gespeichert.",
		"account.password":      "Passwort ändern",
		"account.current":       "Aktuelles Passwort",
		"account.new":           "Neues Passwort",
		"account.changed":       "Ihr Passwort wurde geändert. Ihre anderen Sitzungen wurden abgemeldet.",
		"account.tokens":        "API-Tokens",
		"account.tokens_help":   "Mit Tokens nutzen Skripte die API in Ihrem Namen. Senden Sie einen als Authorization: Bearer <Token>.",
		"account.token_name":    "Name des Tokens",
		"account.token_new":     "Token erstellen",
		"account.token_shown":   "Kopieren Sie diesen Token jetzt. Er wird nur einmal angezeigt:",
		"account.token_revoke":  "Widerrufen",
		"account.token_revoked": "Der Token wurde widerrufen.",
		"account.token_none":    "Noch keine Tokens.",
		"account.token_used":    "zuletzt benutzt",
		"account.export":        "Meine Daten herunterladen",
		"account.export_help":   "Alles, was diese Instanz über Sie als Benutzer speichert, als JSON.",
		"home.welcome":          "Willkommen, %s.",
		"area.inbox":            "Noch keine Unterhaltungen. Chats von Ihrer Website erscheinen hier.",
		"area.tickets":          "Noch keine Tickets. Anfragen aus Ihrem Kontaktformular und per E-Mail erscheinen hier.",
		"area.knowledge":        "Noch keine Artikel. Hilfeartikel, die Sie schreiben, erscheinen hier.",
		"area.bookings":         "Noch keine Termine. Termine, die Ihre Kunden buchen, erscheinen hier.",
		"area.reports":          "Noch keine Zahlen. Berichte füllen sich, während Ihr Team arbeitet.",
		"error.title":           "Etwas stimmt nicht",
		"error.403":             "Sie haben keine Berechtigung, dies zu sehen oder zu tun.",
		"error.404":             "Diese Seite gibt es nicht.",
		"error.423":             "Diese Instanz ist schreibgeschützt: Es kann nichts geändert werden.",
		"error.back":            "Zurück zur Startseite",
		"form.fix":              "Bitte korrigieren Sie die markierten Felder.",
	},
}

var langMatcher = language.NewMatcher([]language.Tag{language.English, language.German})

// lang picks the UI language: the user's setting, else the browser's Accept-Language.
func lang(r *http.Request, u *accounts.User) string {
	if u != nil && u.Locale != "" {
		return u.Locale
	}
	tags, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	_, i, _ := langMatcher.Match(tags...)
	if i == 1 {
		return "de"
	}
	return "en"
}

// translate returns the text for key in lang, formatted with args; a missing key shows
// itself, which the key-parity test catches before release.
func translate(lang, key string, args ...any) string {
	msg, ok := messages[lang][key]
	if !ok {
		msg, ok = messages["en"][key]
	}
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}
