package web

import (
	"context"
	"strings"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
)

// TestAgentCannotLiftTheirChatLimit: the presence route takes a status only; a
// max_chats in it is refused as an unknown field and changes nothing, in read-only
// mode too, so the limit an admin set stays.
func TestAgentCannotLiftTheirChatLimit(t *testing.T) {
	for _, mode := range []struct {
		name     string
		readOnly bool
	}{{"active", false}, {"read-only", true}} {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{readOnly: mode.readOnly}, true)
			ctx := context.Background()
			agentID := h.users[accounts.RoleAgent].ID
			if _, err := h.server.opts.Chat.SetPresence(ctx, agentID, chat.Online, 2); err != nil {
				t.Fatal(err)
			}
			settings := func() chat.AgentSettings {
				t.Helper()
				a, err := h.server.opts.Chat.Agents(ctx, []int64{agentID})
				if err != nil || len(a) != 1 {
					t.Fatalf("agents: %v %v", a, err)
				}
				return a[0].AgentSettings
			}
			before := settings()
			agent := h.loggedIn(accounts.RoleAgent)
			for _, body := range []map[string]any{{"max_chats": 100}, {"status": "away", "max_chats": 100}, {"status": "online", "max_chats": 1}} {
				r := agent.json("PUT", "/api/v1/chat/presence", body)
				if r.status != 400 {
					t.Fatalf("presence %v: %d %s, want 400", body, r.status, r.body)
				}
				if p := r.problem(t); !strings.Contains(p.Detail, "max_chats") {
					t.Errorf("presence %v: detail %q does not name max_chats", body, p.Detail)
				}
				if got := settings(); got != before {
					t.Fatalf("presence %v changed the agent's settings: %+v, were %+v", body, got, before)
				}
			}
			// The status alone is the agent's to set, and the limit stays.
			if r := agent.json("PUT", "/api/v1/chat/presence", map[string]any{"status": "away"}); r.status != 200 || !strings.Contains(r.body, `"max_chats":2`) {
				t.Fatalf("away: %d %s", r.status, r.body)
			}
			want := before
			want.Status = chat.Away
			if got := settings(); got != want {
				t.Fatalf("after going away: %+v, want %+v", got, want)
			}
		})
	}
}
