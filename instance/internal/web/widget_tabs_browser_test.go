package web

import (
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/web/livechat"
)

// TestWidgetTabReplacedByNewerOnes: when newer tabs of the same chat replace the
// widget's connection, the widget says the chat is open in another tab and does not
// connect again by itself (two tabs would take turns replacing each other); when the
// visitor writes in it again, it connects, replacing the oldest of the others, and the
// message arrives.
func TestWidgetTabReplacedByNewerOnes(t *testing.T) {
	ctx := browser(t)
	h := newHarness(t, harnessOptions{}, true)
	site := allowedSite(t, h)
	aws := agentInbox(t, h)
	poll := openWidget(t, ctx, site)
	poll("the pre-chat form sent", `const f = r.querySelector("form.pre"); if (f.hidden) return false; f.name.value = "Lena"; f.consent.checked = true; f.requestSubmit(); return true`)
	poll("the connection", `return r.host.dataset.state === "connected"`)
	token, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.parse(localStorage.getItem("sproudchat:`+h.http.URL+`")).token`))
	if err != nil || token == "" {
		t.Fatalf("the widget's token: %q %v", token, err)
	}
	var tabs []*websocket.Conn // newer tabs, from the same address as the browser
	for range livechat.VisitorsPerChat {
		tabs = append(tabs, dialWS(t, wsURL(h, "/api/v1/chat/ws?token="+token), http.Header{"Origin": {site}}))
	}
	poll("the notice", `const s = r.querySelector(".status").textContent; return r.host.dataset.state === "disconnected" &&
		(s === "This chat is open in another tab; it continues here when you come back to this one." || s === "Dieser Chat ist in einem anderen Tab geöffnet; er geht hier weiter, wenn Sie zu diesem zurückkehren.")`)
	// The widget's own retry would come within a second; it must not come at all.
	time.Sleep(2 * time.Second)
	poll("the widget still disconnected", `return r.host.dataset.state === "disconnected"`)
	if !isOpen(t, tabs[0], 0, "oldest-tab") {
		t.Fatal("the oldest of the newer tabs was closed while the widget waited")
	}
	if f := readFrame(t, aws); f.Type != "message" || f.Body != "still here?" {
		t.Fatalf("the agent got %+v", f)
	}

	poll("a message written in the widget", `const f = r.querySelector("form.compose"); f.message.value = "Hier bin ich wieder"; f.requestSubmit(); return true`)
	poll("the connection again", `return r.host.dataset.state === "connected"`)
	if code := closedWith(t, tabs[0]); code != livechat.CloseReplaced {
		t.Fatalf("the oldest other tab was closed with %d, want %d", code, livechat.CloseReplaced)
	}
	if f := readFrame(t, aws); f.Type != "message" || f.Body != "Hier bin ich wieder" {
		t.Fatalf("the agent got %+v, want the message written in the widget", f)
	}
	poll("the message acknowledged", `return r.querySelectorAll(".msg.pending").length === 0`)
}

// TestInboxTabReplacedByNewerOnes: the inbox page whose connection newer ones of the
// same agent replaced says so, waits, and connects again when the agent comes back to
// it (here: the window gets the focus), replacing the oldest of the others.
func TestInboxTabReplacedByNewerOnes(t *testing.T) {
	ctx := browser(t)
	h := newHarness(t, harnessOptions{}, true)
	_, poll := agentBrowser(t, ctx, h, accounts.RoleAgent)
	agent := h.loggedIn(accounts.RoleAgent) // the same agent elsewhere
	var tabs []*websocket.Conn
	for range livechat.AgentTabs {
		tabs = append(tabs, inboxOf(t, h, agent))
	}
	want := translate("en", "inbox.elsewhere")
	poll("the notice", `const i = document.getElementById("inbox"); return i.dataset.state === "disconnected" && document.getElementById("conn").textContent === `+"`"+want+"`")
	poll("the agent back in this window", `window.dispatchEvent(new Event("focus")); return true`)
	poll("the connection again", `return document.getElementById("inbox").dataset.state === "connected"`)
	if code := closedWith(t, tabs[0]); code != livechat.CloseReplaced {
		t.Fatalf("the oldest other inbox was closed with %d, want %d", code, livechat.CloseReplaced)
	}
}
