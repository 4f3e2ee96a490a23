package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
)

// hostPage serves a customer's website on another origin (localhost instead of
// 127.0.0.1) that embeds the widget with the one documented tag, and styles that would
// break a widget living in the page's own DOM.
func hostPage(t *testing.T, instance string) string {
	t.Helper()
	page := fmt.Sprintf(`<!doctype html><html><head><title>Shop</title>
<style>* { display: inline !important; color: red !important; font-size: 40px !important } button { visibility: hidden }</style>
</head><body><h1>Our shop</h1>
<script src="%s/widget.js" async></script></body></html>`, instance)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	return "http://localhost:" + strings.TrimPrefix(srv.URL, "http://127.0.0.1:")
}

// TestWidgetOnAnotherOrigin: a visitor on the customer's website opens the widget,
// fills in the pre-chat form and writes; the message is stored. An agent's answer
// with HTML in it appears as text. After a reload the history is back, each message
// once.
func TestWidgetOnAnotherOrigin(t *testing.T) {
	ctx := browser(t)
	h := newHarness(t, harnessOptions{}, true)
	site := allowedSite(t, h)
	if err := h.server.opts.Chat.SetWidgetSettings(context.Background(), h.server.opts.Settings, chat.Widget{Colour: "#aa0000", Greeting: "Wie können wir <em>helfen</em>?"}); err != nil {
		t.Fatal(err)
	}
	aws := agentInbox(t, h) // an agent is online
	// in evaluates JavaScript inside the widget's shadow root.
	in := func(js string) string {
		return `(() => { const r = document.getElementById("sproudchat-root")?.shadowRoot; ` + js + ` })()`
	}
	poll := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](in(js), chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	eval := func(js string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](in(js))); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(site)); err != nil {
		t.Fatal(err)
	}
	poll("the bubble", `return !!r && !!r.querySelector("button.bubble")`)
	poll("the bubble to keep its own style", `const b = r.querySelector("button.bubble"); const s = getComputedStyle(b); return s.visibility === "visible" && s.position === "fixed"`)
	eval(`r.querySelector("button.bubble").click()`)
	poll("the pre-chat form", `return !r.querySelector(".panel").hidden && !r.querySelector("form.pre").hidden && r.querySelector("form.off").hidden`)
	poll("the greeting as text, in the admin's colour", `return r.querySelector(".greet").textContent === "Wie können wir <em>helfen</em>?" && getComputedStyle(r.querySelector("button.bubble")).backgroundColor === "rgb(170, 0, 0)"`)
	eval(`const f = r.querySelector("form.pre"); f.name.value = "Lena"; f.email.value = "lena@example.org"; f.consent.checked = true; f.requestSubmit()`)
	poll("the message box", `return !r.querySelector("form.compose").hidden`)
	poll("the connection", `return r.host.dataset.state === "connected"`)
	eval(`const f = r.querySelector("form.compose"); f.message.value = "Hallo, <i>wo</i> ist meine Bestellung?"; f.message.dispatchEvent(new Event("input"))`)
	if f := readFrame(t, aws); f.Type != "typing" || f.Author != "visitor" || !f.On {
		t.Fatalf("the agent got %+v, want the visitor typing", f)
	}
	eval(`r.querySelector("form.compose").requestSubmit()`)

	var conv chat.Conversation
	var stored []chat.Message
	deadline := time.Now().Add(15 * time.Second)
	for len(stored) == 0 && time.Now().Before(deadline) {
		token, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.parse(localStorage.getItem("sproudchat:`+h.http.URL+`")).token`))
		if err == nil && token != "" {
			if conv, err = h.server.opts.Chat.ByToken(context.Background(), token); err != nil {
				t.Fatal(err)
			}
			if stored, err = h.server.opts.Chat.After(context.Background(), conv.ID, 0); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(50 * time.Millisecond) // polling the store, not timing behaviour
	}
	if len(stored) != 1 || stored[0].Body != "Hallo, <i>wo</i> ist meine Bestellung?" || stored[0].Author != chat.Visitor {
		t.Fatalf("stored %+v, want the visitor's one message", stored)
	}
	poll("the acknowledgement", `return r.querySelectorAll(".msg.pending").length === 0 && r.querySelectorAll(".msg").length === 1`)

	agentID := h.users[accounts.RoleAgent].ID
	writeFrame(t, aws, frame{Type: "typing", ConversationID: conv.ID, On: true})
	poll("the agent typing", `return !r.querySelector(".typing").hidden`)
	if _, err := h.server.opts.Chat.Send(context.Background(), conv.ID, chat.Agent, &agentID, "Sie ist <b>unterwegs</b>.", "agent-1"); err != nil {
		t.Fatal(err)
	}
	poll("the agent's answer as text", `const m = r.querySelectorAll(".msg.agent"); return m.length === 1 && m[0].textContent === "Sie ist <b>unterwegs</b>." && !m[0].querySelector("b") && r.querySelector(".typing").hidden`)

	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	poll("the history after a reload", `return !!r && r.querySelectorAll(".msg").length === 2`)
	texts, err := chromedp.Run(ctx, chromedp.Evaluate[string](in(`return Array.from(r.querySelectorAll(".msg"), m => m.textContent).join("|")`)))
	if err != nil {
		t.Fatal(err)
	}
	if texts != "Hallo, <i>wo</i> ist meine Bestellung?|Sie ist <b>unterwegs</b>." {
		t.Errorf("after a reload the widget shows %q", texts)
	}

	// The visitor asks for the transcript; it goes to the address of the pre-chat form.
	poll("the transcript sent", `const b = r.querySelector("button.mailme"); if (!b || b.hidden) return false; b.click(); return true`) // the controls appear once the config is back
	poll("the confirmation", `const s = r.querySelector(".status").textContent; return s === "The transcript is on its way to your inbox." || s === "Der Verlauf ist unterwegs in Ihr Postfach."`)
	mails, err := h.mailer.Outbox(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var transcript string
	for _, m := range mails {
		if m.Kind == "transcript" && m.To == "lena@example.org" {
			transcript = m.Body
		}
	}
	if !strings.Contains(transcript, "Support: Sie ist <b>unterwegs</b>.") {
		t.Errorf("transcript to lena@example.org: %q", transcript)
	}
}

// TestWidgetRefusedOnAnUnlistedOrigin: a website the admin did not allow gets the
// widget script but is offered nothing to send; the visitor reads why, and nothing is
// stored.
func TestWidgetRefusedOnAnUnlistedOrigin(t *testing.T) {
	ctx := browser(t)
	h := newHarness(t, harnessOptions{}, true)
	site := hostPage(t, h.http.URL)
	before := h.counts()
	poll := openWidget(t, ctx, site)
	poll("chat unavailable", `const s = r.querySelector(".status").textContent; return s === "Chat is unavailable right now." || s === "Der Chat ist derzeit nicht verfügbar."`)
	poll("nothing to send", `return Array.from(r.querySelectorAll("form")).every(f => f.hidden)`)
	if after := h.counts(); after["chat_conversations"] != before["chat_conversations"] {
		t.Errorf("a refused origin opened a conversation: %v → %v", before, after)
	}
}

// TestWidgetScriptIsSmallAndSafe: the widget is served as JavaScript, stays within its
// size budget and never builds markup from strings.
func TestWidgetScriptIsSmallAndSafe(t *testing.T) {
	h := newHarness(t, harnessOptions{}, false)
	r := h.client().get("/widget.js")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("GET /widget.js: %d %s", r.status, r.header.Get("Content-Type"))
	}
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	w.Write([]byte(r.body))
	w.Close()
	if gz.Len() > 30<<10 {
		t.Errorf("widget.js is %d bytes gzipped, over the 30 KiB budget", gz.Len())
	}
	for _, unsafe := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		if strings.Contains(r.body, unsafe) {
			t.Errorf("widget.js uses %s", unsafe)
		}
	}
}

// allowedSite serves the customer's page on another origin and lets it embed the widget.
func allowedSite(t *testing.T, h *harness) string {
	t.Helper()
	site := hostPage(t, h.http.URL)
	if _, err := h.server.opts.Chat.SetOrigins(context.Background(), h.server.opts.Settings, []string{site}); err != nil {
		t.Fatal(err)
	}
	return site
}

// startChat fills in the pre-chat form of an open widget and waits for its connection.
func startChat(poll func(what, js string)) {
	poll("the chat", `const f = r.querySelector("form.pre"); if (f.hidden) return false; f.name.value = "Lena"; f.consent.checked = true; f.requestSubmit(); return true`)
	poll("the connection", `return r.host.dataset.state === "connected"`)
}

// widgetConversation is the conversation of the token the widget keeps.
func widgetConversation(t *testing.T, ctx context.Context, h *harness) chat.Conversation {
	t.Helper()
	token, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.parse(localStorage.getItem("sproudchat:`+h.http.URL+`")).token`))
	if err != nil {
		t.Fatal(err)
	}
	conv, err := h.server.opts.Chat.ByToken(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return conv
}

// agentSays stores an agent's message as the inbox would.
func agentSays(t *testing.T, h *harness, conv int64, body string) {
	t.Helper()
	agentID := h.users[accounts.RoleAgent].ID
	if _, err := h.server.opts.Chat.Send(context.Background(), conv, chat.Agent, &agentID, body, ""); err != nil {
		t.Fatal(err)
	}
}

// openWidget loads the customer's page and opens the widget; it returns a function
// that waits until JavaScript run in the widget's shadow root returns true.
func openWidget(t *testing.T, ctx context.Context, site string) func(what, js string) {
	t.Helper()
	in := func(js string) string {
		return `(() => { const r = document.getElementById("sproudchat-root")?.shadowRoot; ` + js + ` })()`
	}
	poll := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](in(js), chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(site)); err != nil {
		t.Fatal(err)
	}
	poll("the widget to open", `if (!r) return false; r.querySelector("button.bubble").click(); return true`)
	return poll
}

// TestWidgetLeavesAMessageWhenNoAgentIsOnline: with nobody in the inbox the widget
// offers the leave-a-message form instead of a chat, and the message becomes a ticket.
func TestWidgetLeavesAMessageWhenNoAgentIsOnline(t *testing.T) {
	ctx := browser(t)
	h := newHarness(t, harnessOptions{}, true)
	site := allowedSite(t, h)
	before := h.counts()
	poll := openWidget(t, ctx, site)
	poll("the offline form", `return !r.querySelector("form.off").hidden && r.querySelector("form.pre").hidden && r.querySelector("form.compose").hidden`)
	poll("the message sent", `const f = r.querySelector("form.off"); f.name.value = "Jonas"; f.email.value = "jonas@example.org"; f.message.value = "Bitte um Rückruf <script>x</script>"; f.requestSubmit(); return true`)
	poll("the thanks with a reference", `return /#\d+$/.test(r.querySelector(".log .note")?.textContent || "") && r.querySelector("form.off").hidden`)
	after := h.counts()
	if after["tickets"] != before["tickets"]+1 || after["chat_conversations"] != before["chat_conversations"] {
		t.Fatalf("counts %v → %v, want one ticket and no conversation", before, after)
	}
	var got struct{ Source, RequesterEmail string }
	if err := h.db.Gorm().Table("tickets").Order("id desc").Select("source, requester_email").Take(&got).Error; err != nil {
		t.Fatal(err)
	}
	if got.Source != "chat" || got.RequesterEmail != "jonas@example.org" {
		t.Errorf("ticket %+v", got)
	}
}

// TestWidgetWhileReadOnly: a suspended instance's widget says chat is unavailable and
// offers nothing to send.
func TestWidgetWhileReadOnly(t *testing.T) {
	ctx := browser(t)
	h := newHarness(t, harnessOptions{readOnly: true}, true)
	site := allowedSite(t, h)
	if err := h.server.opts.Chat.SetWidgetSettings(context.Background(), h.server.opts.Settings, chat.Widget{Colour: "#1f6feb", Greeting: "Hallo"}); err != nil {
		t.Fatal(err)
	}
	agentInbox(t, h)
	poll := openWidget(t, ctx, site)
	poll("the instance's settings (the origin is allowed)", `return r.querySelector(".greet").textContent === "Hallo"`)
	poll("chat unavailable, nothing to send", `const s = r.querySelector(".status").textContent; return (s === "Chat is unavailable right now." || s === "Der Chat ist derzeit nicht verfügbar.") && Array.from(r.querySelectorAll("form")).every(f => f.hidden)`)
}

// TestWidgetSurvivesARestart: the server dies mid-conversation. Meanwhile the visitor
// writes and the agent answers; when the server is back the widget reconnects, resends
// and resumes: every message is stored once, and the widget shows each once, before
// and after a reload.
func TestWidgetSurvivesARestart(t *testing.T) {
	ctx := browser(t)
	h := newHarness(t, harnessOptions{}, true)
	site := allowedSite(t, h)
	agentInbox(t, h)
	poll := openWidget(t, ctx, site)
	startChat(poll)
	send := `const f = r.querySelector("form.compose"); f.message.value = %q; f.requestSubmit(); return true`
	poll("the first message", fmt.Sprintf(send, "eins"))
	poll("its acknowledgement", `return r.querySelectorAll(".msg").length === 1 && !r.querySelector(".msg.pending")`)

	h.restart()
	poll("the widget to notice", `return r.host.dataset.state === "disconnected"`)
	poll("a message written while the server is away", fmt.Sprintf(send, "zwei"))
	conv := widgetConversation(t, ctx, h)
	agentSays(t, h, conv.ID, "drei")
	poll("the reconnection, resend and resume", `return r.host.dataset.state === "connected" && r.querySelectorAll(".msg").length === 3 && !r.querySelector(".msg.pending")`)

	stored, err := h.server.opts.Chat.After(context.Background(), conv.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range stored {
		got = append(got, fmt.Sprintf("%d:%s:%s", m.Seq, m.Author, m.Body))
	}
	if strings.Join(got, " ") != "1:visitor:eins 2:agent:drei 3:visitor:zwei" {
		t.Errorf("stored %v", got)
	}
	shown := func() string {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.getElementById("sproudchat-root").shadowRoot.querySelectorAll(".msg"), m => m.textContent).join(" ")`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if s := shown(); s != "eins zwei drei" {
		t.Errorf("the widget shows %q, want each message once", s)
	}
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	poll("the history after a reload", `return !!r && r.querySelectorAll(".msg").length === 3`)
	if s := shown(); s != "eins drei zwei" {
		t.Errorf("after a reload the widget shows %q, want the stored order", s)
	}
}

// TestWidgetCountsUnreadAnswers: answers that arrive while the panel is closed show as a
// count on the bubble, also after a reload, until the visitor opens the panel.
func TestWidgetCountsUnreadAnswers(t *testing.T) {
	ctx := browser(t)
	h := newHarness(t, harnessOptions{}, true)
	site := allowedSite(t, h)
	agentInbox(t, h)
	poll := openWidget(t, ctx, site)
	startChat(poll)
	poll("a question", `const f = r.querySelector("form.compose"); f.message.value = "Hallo?"; f.requestSubmit(); return true`)
	poll("its acknowledgement", `return r.querySelectorAll(".msg").length === 1 && !r.querySelector(".msg.pending")`)
	poll("the panel closed", `r.querySelector("header button").click(); return r.querySelector(".panel").hidden`)
	conv := widgetConversation(t, ctx, h)
	agentSays(t, h, conv.ID, "Hallo Lena!")
	agentSays(t, h, conv.ID, "Wie kann ich helfen?")
	unread := `const b = r.querySelector(".badge"); return !b.hidden && b.textContent === "2" && r.querySelector("button.bubble").getAttribute("aria-label").endsWith("(2)")`
	poll("two unread answers", unread)
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	poll("two unread answers after a reload", `if (!r || r.querySelectorAll(".msg").length !== 3) return false; `+unread)
	poll("the panel opened", `r.querySelector("button.bubble").click(); return !r.querySelector(".panel").hidden && r.querySelector(".badge").hidden`)
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	poll("nothing unread once read", `return !!r && r.querySelectorAll(".msg").length === 3 && r.querySelector(".badge").hidden`)
}
