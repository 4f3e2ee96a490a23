package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
)

// badAddresses are what a visitor might type, or send, as their e-mail address that is
// not one bare address: a header break, a display name, a list, nothing like one.
var badAddresses = []string{
	"rita@example.org\r\nBcc: evil@example.net",
	"rita@example.org\nBcc: evil@example.net",
	"Rita <rita@example.org>",
	"<rita@example.org>",
	"rita@example.org, evil@example.net",
	"not an address",
}

// TestVisitorAddressesAreChecked: the chat's start form and its leave-a-message form
// take only a bare e-mail address, as the contact form does; a transcript is not
// mailed to a stored address that is not one.
func TestVisitorAddressesAreChecked(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	ctx := context.Background()
	if _, err := h.server.opts.Chat.SetOrigins(ctx, h.server.opts.Settings, []string{shop}); err != nil {
		t.Fatal(err)
	}
	// Each visitor from an address of their own: the offline form allows a few an hour.
	visitors := 0
	post := func(path string, body map[string]string) response {
		t.Helper()
		b, _ := json.Marshal(body)
		visitors++
		return h.client().do("POST", path, "application/json", bytes.NewReader(b), map[string]string{"Origin": shop, "X-Forwarded-For": fmt.Sprintf("198.51.100.%d", visitors)})
	}
	before := h.counts()
	for _, bad := range badAddresses {
		t.Run(bad, func(t *testing.T) {
			for path, body := range map[string]map[string]string{
				"/api/v1/chat/conversations": {"name": "Rita", "email": bad},
				"/api/v1/chat/offline":       {"name": "Rita", "email": bad, "message": "Hallo"},
			} {
				r := post(path, body)
				if r.status != 422 {
					t.Fatalf("%s with %q: %d %s", path, bad, r.status, r.body)
				}
				field := "email"
				if path == "/api/v1/chat/offline" {
					field = "requester_email"
				}
				if p := r.problem(t); p.Errors[field] == "" {
					t.Errorf("%s with %q: %+v names no %s", path, bad, p, field)
				}
			}
		})
	}
	if r := post("/api/v1/chat/conversations", map[string]string{"name": "Rita\r\nBcc: evil@example.net"}); r.status != 422 || r.problem(t).Errors["name"] == "" {
		t.Fatalf("a name with a line break: %d %s", r.status, r.body)
	}
	if after := h.counts(); after["chat_conversations"] != before["chat_conversations"] || after["tickets"] != before["tickets"] {
		t.Fatalf("refused forms stored something: %v → %v", before, after)
	}
	r := post("/api/v1/chat/conversations", map[string]string{"name": "Rita", "email": " Rita@Example.org "})
	if r.status != 201 {
		t.Fatalf("a good address: %d %s", r.status, r.body)
	}
	var started struct {
		ConversationID int64  `json:"conversation_id"`
		Token          string `json:"token"`
	}
	r.decode(t, &started)
	if c, err := h.server.opts.Chat.Conversation(ctx, started.ConversationID); err != nil || c.VisitorEmail != "rita@example.org" {
		t.Fatalf("stored %+v, %v", c, err)
	}

	// A chat started before addresses were checked gets no transcript.
	if err := h.db.Gorm().Exec("UPDATE chat_conversations SET visitor_email = ? WHERE id = ?", "rita@example.org, evil@example.net", started.ConversationID).Error; err != nil {
		t.Fatal(err)
	}
	queued := func() int {
		mails, err := h.mailer.Outbox(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range mails {
			if m.Kind == "transcript" {
				n++
			}
		}
		return n
	}
	if r := post("/api/v1/chat/transcript", map[string]string{"token": started.Token}); r.status != 422 || queued() != 0 {
		t.Fatalf("transcript to a stored list of addresses: %d %s, %d queued", r.status, r.body, queued())
	}
}
