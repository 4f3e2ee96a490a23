package web

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
)

func contactForm(name, email, subject, message string, consent bool) url.Values {
	v := url.Values{"name": {name}, "email": {email}, "subject": {subject}, "message": {message}}
	if consent {
		v.Set("consent", "yes")
	}
	return v
}

func TestContactForm(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	visitor := h.client()
	page := visitor.get("/contact")
	if page.status != 200 || !strings.Contains(page.body, `href="/privacy"`) || !strings.Contains(page.body, `name="consent"`) {
		t.Fatalf("contact page: %d", page.status)
	}
	if p := visitor.get("/privacy"); p.status != 200 || !strings.Contains(p.body, "third party") {
		t.Fatalf("privacy page: %d", p.status)
	}

	before := h.counts()
	res := visitor.form("/contact", contactForm("Rita", "not-an-address", "", "hello", false))
	if res.status != 422 || !strings.Contains(res.body, "Please agree") || !strings.Contains(res.body, "is not a valid e-mail address") ||
		!strings.Contains(res.body, `value="Rita"`) {
		t.Fatalf("form without consent: %d %s", res.status, res.body)
	}
	if after := h.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a refused form wrote: %v → %v", before, after)
	}

	res = visitor.form("/contact", contactForm("Rita <b>R</b>", "Rita@Example.org", "Invoice question", "Where is my invoice?", true))
	if res.status != 201 || !strings.Contains(res.body, "reference #") || strings.Contains(res.body, "<b>R</b>") {
		t.Fatalf("contact: %d %s", res.status, res.body)
	}
	items, _, _ := h.server.opts.Tickets.List(context.Background(), tickets.Filter{Requester: "rita@example.org", Limit: 10})
	if len(items) != 1 || items[0].Source != "contact" || items[0].Subject != "Invoice question" {
		t.Fatalf("tickets from the form: %+v", items)
	}
	if !strings.Contains(res.body, fmt.Sprintf("#%d", items[0].ID)) {
		t.Fatal("the thanks page does not show the ticket's reference")
	}
	mails, _ := h.mailer.Outbox(context.Background(), 20)
	var confirmed, noticed bool
	for _, m := range mails {
		confirmed = confirmed || m.To == "rita@example.org" && m.Kind == "confirmation" && strings.Contains(m.Subject, fmt.Sprintf("[#%d]", items[0].ID))
		noticed = noticed || m.Kind == "new_ticket" && m.To == "agent@example.org"
	}
	if !confirmed || !noticed {
		t.Fatalf("outbox lacks the confirmation (%v) or the agents' notice (%v): %+v", confirmed, noticed, mails)
	}
	var box struct{ Items []mailJSON }
	h.loggedIn(accounts.RoleAdmin).get("/api/v1/outbox").decode(t, &box)
	if len(box.Items) != len(mails) || box.Items[0].Status != "pending" {
		t.Fatalf("the outbox API shows %+v", box.Items)
	}

	// A bot filling the hidden field sees thanks, and nothing is stored.
	before = h.counts()
	bot := contactForm("Bot", "bot@example.org", "Buy now", "cheap", true)
	bot.Set("website", "http://spam.example")
	if res := h.client().form("/contact", bot); res.status != 200 || !strings.Contains(res.body, "Thank you") {
		t.Fatalf("honeypot: %d", res.status)
	}
	if after := h.counts(); after["tickets"] != before["tickets"] {
		t.Fatal("the honeypot post created a ticket")
	}

	// Five posts an hour per address; the sixth waits, and the hour frees it.
	spammer := h.client()
	for i := 0; i < 5; i++ {
		spammer.do("POST", "/contact", "application/x-www-form-urlencoded", strings.NewReader(contactForm("S", "s@example.org", "x", "y", true).Encode()),
			map[string]string{"X-Forwarded-For": "10.9.9.9"})
	}
	res = spammer.do("POST", "/contact", "application/x-www-form-urlencoded", strings.NewReader(contactForm("S", "s@example.org", "x", "y", true).Encode()),
		map[string]string{"X-Forwarded-For": "10.9.9.9", "Accept-Language": "de"})
	if res.status != 429 || res.header.Get("Retry-After") == "" || !strings.Contains(res.body, "Zu viele Nachrichten") {
		t.Fatalf("sixth post: %d %s", res.status, res.body)
	}
	h.clock.Advance(time.Hour + time.Second)
	res = spammer.do("POST", "/contact", "application/x-www-form-urlencoded", strings.NewReader(contactForm("S", "s@example.org", "x", "y", true).Encode()),
		map[string]string{"X-Forwarded-For": "10.9.9.9"})
	if res.status != 201 {
		t.Fatalf("after the hour: %d", res.status)
	}
}
