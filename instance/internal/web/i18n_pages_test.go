package web

import (
	"fmt"
	"html"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/i18n"
)

// englishOnly lists, for the given groups of keys or all, the English catalog's texts (and, for messages with placeholders,
// their fixed parts) that no German message contains: if a German page shows one of
// them, English leaked. Texts that are the same in both languages ("Status",
// "E-Mail", "Tickets") are in the German catalog and so not listed.
func englishOnly(c *i18n.Catalog, groups ...string) map[string]*regexp.Regexp {
	var german []string
	for _, key := range c.Keys("de") {
		for _, s := range c.Forms("de", key) {
			german = append(german, s)
		}
	}
	inGerman := func(s string) bool {
		return slices.ContainsFunc(german, func(g string) bool { return strings.Contains(g, s) })
	}
	out := map[string]*regexp.Regexp{}
	for _, key := range c.Keys("en") {
		group := key[:strings.IndexByte(key, '.')]
		if group == "format" || len(groups) > 0 && !slices.Contains(groups, group) || len(groups) == 0 && (group == "mail" || group == "event") {
			continue // Go time layouts, and groups not asked for: pages show no e-mail or notification text
		}
		for _, s := range c.Forms("en", key) {
			for _, part := range regexp.MustCompile(`{{[^}]*}}`).Split(s, -1) {
				part = strings.TrimSpace(part)
				letters := len(regexp.MustCompile(`\p{L}`).FindAllString(part, -1))
				if letters < 3 || inGerman(part) {
					continue
				}
				out[key+": "+part] = regexp.MustCompile(`(^|\P{L})` + regexp.QuoteMeta(part) + `($|\P{L})`)
			}
		}
	}
	return out
}

var (
	scriptOrStyle = regexp.MustCompile(`(?is)<(script|style)\b.*?</(script|style)>`)
	shownAttr     = regexp.MustCompile(`(?i)\s(?:aria-label|placeholder|title|alt)="([^"]*)"`)
	tag           = regexp.MustCompile(`(?s)<[^>]*>`)
)

// shownText is what a person reads on a page: its text and the attributes a browser
// shows or reads out, without scripts and markup.
func shownText(page string) string {
	page = scriptOrStyle.ReplaceAllString(page, " ")
	var b strings.Builder
	for _, m := range shownAttr.FindAllStringSubmatch(page, -1) {
		b.WriteString(html.UnescapeString(m[1]) + "\n")
	}
	b.WriteString(html.UnescapeString(tag.ReplaceAllString(page, "\n")))
	return regexp.MustCompile(`\s*\n\s*`).ReplaceAllString(b.String(), "\n")
}

// checkGerman fails for every English-only catalog text on a German page.
func checkGerman(t *testing.T, what, page string, english map[string]*regexp.Regexp) {
	t.Helper()
	text := shownText(page)
	for name, re := range english {
		if re.MatchString(text) {
			t.Errorf("%s shows English text %q", what, name)
		}
	}
}

// TestGermanPagesShowNoEnglish renders every page of the route table in German for a
// user who may see it (the admin, a visitor for public pages) and every form's
// validation errors, and looks for text from the English catalog that the German
// catalog lacks.
func TestGermanPagesShowNoEnglish(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	english := englishOnly(catalog)
	if len(english) < 300 {
		t.Fatalf("only %d English-only texts to look for", len(english))
	}
	de := map[string]string{"Accept-Language": "de-DE,de;q=0.9"}
	admin := h.loggedIn(accounts.RoleAdmin)
	if r := admin.json("PATCH", "/api/v1/me", map[string]string{"locale": "de"}); r.status != http.StatusOK {
		t.Fatalf("set language: %d %s", r.status, r.body)
	}
	// A failed delivery, for the notifications page's log: the target's port answers nothing.
	if r := admin.form(fmt.Sprintf("/settings/notifications/%d/test", h.target), url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("test delivery: %d", r.status)
	}
	visitor := h.client()
	pages := 0
	for _, rt := range h.server.Routes() {
		if rt.Method != http.MethodGet || rt.API() || strings.HasPrefix(rt.Path, "/static") || rt.Path == "/widget.js" ||
			rt.Path == "/healthz" || rt.Path == "/readyz" {
			continue
		}
		c := admin
		if rt.Perm == accounts.Public {
			c = visitor
		}
		path := concretePath(h, rt, h.users[accounts.RoleAgent].ID)
		t.Run(path, func(t *testing.T) {
			r := c.do("GET", path, "", nil, de)
			if r.status != http.StatusOK && r.status != http.StatusSeeOther && rt.Path != "/setup" {
				t.Fatalf("GET %s: %d", path, r.status)
			}
			if r.status == http.StatusSeeOther {
				return // /book goes straight to the one appointment type, a page of its own
			}
			if !strings.Contains(r.body, `<html lang="de">`) {
				t.Fatalf("GET %s is not German", path)
			}
			pages++
			checkGerman(t, path, r.body, english)
			if rt.Path == "/settings/notifications" && (!strings.Contains(shownText(r.body), "nicht erreichbar") || strings.Contains(shownText(r.body), "connect")) {
				t.Errorf("the delivery log does not say in German why the test failed:\n%s", shownText(r.body))
			}
		})
	}
	if pages < 25 {
		t.Errorf("only %d pages rendered", pages)
	}
	// Each form refused, in German.
	for _, f := range []struct {
		c    *client
		path string
		form url.Values
		want string // a field's reason, in German
	}{
		{admin, "/settings/users", url.Values{"name": {"x"}, "email": {"not an address"}, "role": {"boss"}, "password": {"short"}}, "ist keine gültige E-Mail-Adresse"},
		{admin, "/settings/users", url.Values{"name": {"x"}, "email": {"agent@example.org"}, "role": {"agent"}, "password": {"a long enough password"}}, "ist bereits vergeben"},
		{admin, "/account/password", url.Values{"current_password": {adminPassword}, "new_password": {"short"}}, "muss mindestens 10 Zeichen lang sein"},
		{admin, "/account/tokens", url.Values{"name": {strings.Repeat("n", 101)}}, "ist länger als 100 Zeichen"},
		{admin, "/tickets", url.Values{"subject": {""}, "requester_email": {"nobody"}, "body": {""}, "tags": {"a b"}}, "ist erforderlich"},
		{admin, "/knowledge", url.Values{"title": {""}, "slug": {"Not A Slug"}, "body": {""}, "language": {"fr"}}, "ist erforderlich, höchstens 200 Zeichen"},
		{admin, "/settings/notifications", url.Values{"kind": {"webhook"}, "name": {"x"}, "url": {"ftp://example.org"}, "secret": {"short"}}, "muss https verwenden"},
		{admin, "/settings/notifications", url.Values{"kind": {"bark"}, "name": {"x"}}, "ist erforderlich: der Schlüssel, den die Bark-App zeigt"},
		{admin, "/settings/booking/types", url.Values{"name": {""}, "slug": {"Not A Slug"}, "duration_minutes": {"1"}, "horizon_days": {"0"}}, "muss 1 bis 60 Kleinbuchstaben, Ziffern oder - enthalten"},
		{admin, "/settings/booking/hours", url.Values{"start_1": {"25:00"}, "end_1": {"26:00"}}, "Zeiten müssen wie 09:00 geschrieben werden"},
		{admin, "/settings/chat/canned", url.Values{"shortcut": {"no spaces"}, "body": {""}}, "muss 1 bis 32 Buchstaben, Ziffern, - oder _ enthalten"},
		{admin, "/tickets/" + strconv.FormatInt(h.ticket.ID, 10) + "/merge", url.Values{"into": {strconv.FormatInt(h.ticket.ID, 10)}}, "ein Ticket kann nicht mit sich selbst zusammengeführt werden"},
		{admin, "/settings/booking/config", url.Values{"time_zone": {"Mars/Base"}, "reminder_hours": {"1000"}, "retention_days": {"0"}}, "muss eine Zeitzone wie Europe/Berlin sein"},
		{visitor, "/contact", url.Values{"name": {""}, "email": {"nobody"}, "subject": {""}, "message": {""}}, "ist keine gültige E-Mail-Adresse"},
		{visitor, "/book/" + h.bookType.Slug, url.Values{"start": {"2026-11-04T09:30:00Z"}, "name": {""}, "email": {"nobody"}}, "muss eine E-Mail-Adresse sein"},
	} {
		t.Run("POST "+f.path, func(t *testing.T) {
			f.form.Set("csrf_token", f.c.csrf)
			r := f.c.do("POST", f.path, "application/x-www-form-urlencoded", strings.NewReader(f.form.Encode()),
				map[string]string{"Accept-Language": "de", "X-CSRF-Token": f.c.csrf, "X-Forwarded-For": "10.77.0.1"})
			if r.status < 400 || !strings.Contains(r.body, f.want) {
				t.Fatalf("%d; want an error page or form with %q:\n%s", r.status, f.want, shownText(r.body))
			}
			checkGerman(t, "POST "+f.path, r.body, english)
		})
	}
}

// TestGermanVisitorMails: a visitor who books and writes in German gets German
// e-mails, the times in the instance's zone, with no English-only catalog text; the
// team's new-ticket mail follows each user's language.
func TestGermanVisitorMails(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	english := englishOnly(catalog, "mail", "weekday", "month")
	v := h.client()
	de := map[string]string{"Accept-Language": "de-DE,de;q=0.9", "X-Forwarded-For": "10.78.0.1"}
	form := func(path string, vals url.Values) {
		t.Helper()
		if r := v.do("POST", path, "application/x-www-form-urlencoded", strings.NewReader(vals.Encode()), de); r.status >= 400 {
			t.Fatalf("POST %s: %d", path, r.status)
		}
	}
	form("/book/"+h.bookType.Slug, url.Values{"start": {"2026-11-04T09:30:00Z"}, "name": {"Ida"}, "email": {"ida@example.org"}, "consent": {"yes"}})
	form("/contact", contactForm("Rita", "rita@example.org", "Frage", "Wie geht das?", true))
	mails, err := h.mailer.Outbox(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range mails {
		got[m.To+" "+m.Kind] += m.Subject + "\n" + m.Body + "\n"
	}
	for _, tc := range []struct {
		to   string
		want []string
	}{
		{"ida@example.org booking", []string{"Ihr Termin: Erstgespräch", "Hallo Ida,", "Ihr Termin ist gebucht:", "Mittwoch, 4. November 2026, 10:30 – 11:00 (Europe/Berlin)", "Absagen oder verschieben: "}},
		{"rita@example.org confirmation", []string{"Wir haben Ihre Anfrage [#", "Hallo Rita,", "„Frage“"}},
		{"admin@example.org new_ticket", []string{"New ticket [#", "from Rita <rita@example.org>"}}, // the admin chose no language
	} {
		t.Run(tc.to, func(t *testing.T) {
			text, ok := got[tc.to]
			if !ok {
				t.Fatalf("no mail; have %v", slices.Sorted(maps.Keys(got)))
			}
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("the mail lacks %q:\n%s", w, text)
				}
			}
			if strings.HasPrefix(tc.to, "admin@") {
				return
			}
			for name, re := range english {
				if re.MatchString(text) {
					t.Errorf("the mail has English text %q:\n%s", name, text)
				}
			}
		})
	}
}

// TestAuditLogShowsTheInstanceTimeZone: the audit log's times are in the instance's
// zone (Europe/Berlin by default) in each language's format, not UTC.
func TestAuditLogShowsTheInstanceTimeZone(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true) // the harness's clock: 2 November 2026, 09:00 UTC
	admin := h.loggedIn(accounts.RoleAdmin)
	for _, tc := range []struct{ lang, want string }{
		{"en", "Nov 2, 2026, 10:00 AM"},
		{"de", "2.11.2026, 10:00"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			r := admin.do("GET", "/settings/audit", "", nil, map[string]string{"Accept-Language": tc.lang})
			if r.status != http.StatusOK {
				t.Fatalf("audit log: %d", r.status)
			}
			text := shownText(r.body)
			if !strings.Contains(text, tc.want) || strings.Contains(text, "09:00") || strings.Contains(text, "UTC") {
				t.Errorf("the audit log does not show %q (and no UTC time):\n%s", tc.want, text)
			}
		})
	}
	// Another zone moves the times with it.
	cfg, err := h.server.opts.Booking.Config(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cfg.TimeZone = "America/New_York"
	if _, err := h.server.opts.Booking.SetConfig(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	r := admin.do("GET", "/settings/audit", "", nil, map[string]string{"Accept-Language": "de"})
	if text := shownText(r.body); !strings.Contains(text, "2.11.2026, 04:00") {
		t.Errorf("in New York the audit log does not show 04:00:\n%s", text)
	}
}

// TestChatErrorsInTheVisitorsLanguage: a message the chat refuses is explained in the
// language the visitor's browser asked for when the chat connected.
func TestChatErrorsInTheVisitorsLanguage(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	for _, tc := range []struct{ lang, want string }{
		{"de-DE,de;q=0.9", "ist länger als 4000 Zeichen"},
		{"en", "is longer than 4000 characters"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			ws := dialWS(t, wsURL(h, "/api/v1/chat/ws?token="+h.chatTok), http.Header{"Accept-Language": {tc.lang}})
			writeFrame(t, ws, frame{Type: "send", ClientID: "long-" + tc.lang, Body: strings.Repeat("x", 4001)})
			for {
				f := readFrame(t, ws)
				if f.Type != "error" {
					continue // the replay of the conversation so far
				}
				if f.Detail != tc.want {
					t.Fatalf("error frame %+v, want detail %q", f, tc.want)
				}
				return
			}
		})
	}
}

// TestAuditLogNamesActionsInThePagesLanguage: the audit log says what happened in
// words of the page's language ("Angemeldet"), not as the stable action code
// ("login") that exports and filters use; every action has its words in both catalogs.
func TestAuditLogNamesActionsInThePagesLanguage(t *testing.T) {
	for _, action := range accounts.AuditActions {
		for _, lang := range []string{"en", "de"} {
			if !catalog.Has(lang, "audit.event."+action) {
				t.Errorf("catalog %s has no words for the audit action %q (audit.event.%s)", lang, action, action)
			}
		}
	}
	h := newHarness(t, harnessOptions{}, true)
	admin := h.loggedIn(accounts.RoleAdmin) // logging in records a login
	for _, tc := range []struct{ lang, want string }{
		{"en", "Signed in"},
		{"de", "Angemeldet"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			r := admin.do("GET", "/settings/audit", "", nil, map[string]string{"Accept-Language": tc.lang})
			if r.status != http.StatusOK {
				t.Fatalf("audit log: %d", r.status)
			}
			text := shownText(r.body)
			if !strings.Contains(text, tc.want) {
				t.Errorf("the audit log does not name the login %q:\n%s", tc.want, text)
			}
			for _, action := range accounts.AuditActions {
				if regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(action) + `(\s|$)`).MatchString(text) {
					t.Errorf("the audit log shows the action code %q instead of words:\n%s", action, text)
				}
			}
		})
	}
}
