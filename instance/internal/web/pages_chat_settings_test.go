package web

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

// TestChatSettingsPage: an admin sets the allowed websites, look and texts, canned
// responses and agents' limits in the UI; a wrong value is shown with its reason and
// changes nothing.
func TestChatSettingsPage(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	admin := h.loggedIn(accounts.RoleAdmin)
	ctx := context.Background()
	page := admin.get("/settings/chat")
	if page.status != 200 || !strings.Contains(page.body, "&lt;script src=&#34;"+h.server.opts.BaseURL.String()) {
		t.Fatalf("page: %d, no embed snippet in %s", page.status, page.body)
	}
	bad := admin.form("/settings/chat", url.Values{"origins": {"https://shop.example\nnot a site"}, "colour": {"#00aa00"}, "greeting": {"Hallo"}})
	if bad.status != 422 || !strings.Contains(bad.body, "not a site") || !strings.Contains(bad.body, `class="field-error"`) {
		t.Fatalf("bad origin: %d %s", bad.status, bad.body)
	}
	if cs, _ := h.server.chat.readChatSettings(ctx); len(cs.Origins) != 0 || cs.Greeting != "" {
		t.Fatalf("a rejected form stored %+v", cs)
	}
	ok := admin.form("/settings/chat", url.Values{"origins": {"https://Shop.example\r\n\r\nhttps://www.shop.example/"}, "colour": {"#00aa00"},
		"greeting": {"Hallo <b>!</b>"}, "offline_text": {"Morgen wieder"}})
	if ok.status != 303 {
		t.Fatalf("save: %d %s", ok.status, ok.body)
	}
	cs, _ := h.server.chat.readChatSettings(ctx)
	if fmt.Sprint(cs.Origins) != "[https://shop.example https://www.shop.example]" || cs.Colour != "#00aa00" || cs.Greeting != "Hallo <b>!</b>" || cs.OfflineText != "Morgen wieder" {
		t.Fatalf("stored %+v", cs)
	}
	if p := admin.get("/settings/chat?ok=saved"); !strings.Contains(p.body, "Hallo &lt;b&gt;!&lt;/b&gt;") {
		t.Fatalf("the greeting is not shown escaped")
	}
	if r := admin.form("/settings/chat/canned", url.Values{"shortcut": {"gruss"}, "body": {"Viele Grüße"}}); r.status != 303 {
		t.Fatalf("add canned: %d %s", r.status, r.body)
	}
	if r := admin.form("/settings/chat/canned", url.Values{"shortcut": {"gruss"}, "body": {"noch mal"}}); r.status != 409 || !strings.Contains(r.body, "already in use") {
		t.Fatalf("canned twice: %d", r.status)
	}
	list, _ := h.server.opts.Chat.CannedResponses(ctx)
	if len(list) != 1 {
		t.Fatalf("canned %+v", list)
	}
	if r := admin.form(fmt.Sprintf("/settings/chat/canned/%d/delete", list[0].ID), url.Values{}); r.status != 303 {
		t.Fatalf("delete canned: %d", r.status)
	}
	agentID := h.users[accounts.RoleAgent].ID
	if r := admin.form(fmt.Sprintf("/settings/chat/agents/%d", agentID), url.Values{"max_chats": {"0"}}); r.status != 422 {
		t.Fatalf("limit 0: %d", r.status)
	}
	if r := admin.form(fmt.Sprintf("/settings/chat/agents/%d", agentID), url.Values{"max_chats": {"7"}}); r.status != 303 {
		t.Fatalf("limit 7: %d %s", r.status, r.body)
	}
	if r := admin.form(fmt.Sprintf("/settings/chat/agents/%d", h.users[accounts.RoleViewer].ID), url.Values{"max_chats": {"7"}}); r.status != 422 {
		t.Fatalf("a viewer's limit: %d", r.status)
	}
	agents, _ := h.server.opts.Chat.Agents(ctx, []int64{agentID})
	if agents[0].MaxChats != 7 {
		t.Fatalf("agent limit %d", agents[0].MaxChats)
	}
}
