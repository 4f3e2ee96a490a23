package web

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

// agentBrowser opens a second, separate browser context (its own cookies and storage)
// beside ctx, logs the user of role in and opens the inbox. It returns a poll in that
// context: wait until JavaScript returns true.
func agentBrowser(t *testing.T, ctx context.Context, h *harness, role accounts.Role) (context.Context, func(what, js string)) {
	t.Helper()
	actx, poll := loggedInBrowser(t, ctx, h, role, "/inbox", "#inbox")
	poll("the live connection", `return document.getElementById("inbox").dataset.state === "connected"`)
	return actx, poll
}

// loggedInBrowser opens a second, separate browser context beside ctx, logs the user of
// role in and follows the navigation link to page until sel shows. It returns a poll
// in that context.
func loggedInBrowser(t *testing.T, ctx context.Context, h *harness, role accounts.Role, page, sel string) (context.Context, func(what, js string)) {
	t.Helper()
	if err := chromedp.Do(ctx); err != nil { // the browser must be running to add a context
		t.Fatal(err)
	}
	actx, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	err := chromedp.Do(actx,
		chromedp.Navigate(h.http.URL+"/login"),
		chromedp.WaitVisible(css(`input[name=email]`)),
		chromedp.SendKeys(css(`input[name=email]`), h.users[role].Email),
		chromedp.SendKeys(css(`input[name=password]`), passwordOf(role)),
		chromedp.Click(css(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(css(`header.top`)),
		chromedp.Click(css(`header.top a[href="`+page+`"]`)),
		chromedp.WaitVisible(css(sel)),
	)
	if err != nil {
		t.Fatalf("log in and open %s: %v", page, err)
	}
	poll := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(actx, chromedp.Poll[bool](`(() => { `+js+` })()`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			t.Fatalf("%s, waiting for %s: %v", page, what, err)
		}
	}
	return actx, poll
}

// TestInboxAndWidgetInTheBrowser: a visitor on the customer's website and an agent in
// the inbox, each in their own browser context, talk: the new chat rings and counts as
// unread, typing shows both ways, HTML stays text, a canned response and a note are
// used, a file goes each way, and the server restarts mid-conversation without
// anything lost or doubled on either side.
func TestInboxAndWidgetInTheBrowser(t *testing.T) {
	ctx := browser(t)
	h := newHarness(t, harnessOptions{}, true)
	site := allowedSite(t, h)
	if _, err := h.server.opts.Chat.CreateCanned(context.Background(), "danke", "Danke für Ihre Geduld! <i>Gern</i> geschehen."); err != nil {
		t.Fatal(err)
	}
	actx, inbox := agentBrowser(t, ctx, h, accounts.RoleAgent)
	agentDo := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(actx, actions...); err != nil {
			t.Fatalf("the agent, %s: %v", what, err)
		}
	}

	// The visitor starts a chat and writes before the agent has opened it.
	widget := openWidget(t, ctx, site)
	startChat(widget)
	send := `const f = r.querySelector("form.compose"); f.message.value = %q; f.requestSubmit(); return true`
	widget("the first message", fmt.Sprintf(send, "Hallo <b>Team</b>, mein Paket fehlt."))
	inbox("the new chat to ring and count as unread", `const b = document.querySelector("#conversations .conv");
		return Number(document.getElementById("inbox").dataset.rings) >= 1 && !!b && b.querySelector(".who").textContent === "Lena" &&
			b.querySelector(".unread").textContent === "1" && !b.querySelector(".unread").hidden && b.querySelector(".meta").textContent === "You"`)
	agentDo("opening the conversation", chromedp.Click(chromedp.CSS(`#conversations .conv`)))
	inbox("the message, as text", `const li = document.querySelector("#messages li.visitor");
		return !!li && li.textContent.endsWith("Hallo <b>Team</b>, mein Paket fehlt.") && !li.querySelector("b")`)
	inbox("the unread count cleared", `return document.querySelector("#conversations .unread").hidden`)
	conv := widgetConversation(t, ctx, h)
	h.waitFor(t, "the read mark stored", func() bool {
		c, err := h.server.opts.Chat.Conversation(context.Background(), conv.ID)
		return err == nil && c.ReadSeq == 1 && c.Unread == 0
	})

	// A notification's link opens the conversation straight away.
	agentDo("following a notification's link", chromedp.Navigate(fmt.Sprintf("%s/inbox?c=%d", h.http.URL, conv.ID)))
	inbox("the linked conversation open", `return !document.getElementById("conversation").hidden && document.querySelector("#messages li.visitor") !== null &&
		document.getElementById("inbox").dataset.state === "connected"`)

	// Typing, both ways.
	widget("the visitor typing", `const i = r.querySelector("form.compose textarea"); i.value = "Noch"; i.dispatchEvent(new Event("input")); return true`)
	inbox("the visitor's typing shown", `return !document.getElementById("typing").hidden`)
	agentDo("typing", chromedp.SendKeys(chromedp.CSS(`#reply-body`), "/dan"))
	widget("the agent's typing shown", `return !r.querySelector(".typing").hidden`)

	// A canned response by its shortcut (Tab completes it), then a note the visitor never sees.
	inbox("the canned suggestion", `const c = document.getElementById("canned"); return !c.hidden && c.textContent.startsWith("/danke")`)
	agentDo("completing and sending the canned response", chromedp.SendKeys(chromedp.CSS(`#reply-body`), "\t\r"))
	widget("the canned response, as text", `const m = Array.from(r.querySelectorAll(".msg.agent")).pop();
		return !!m && m.textContent === "Danke für Ihre Geduld! <i>Gern</i> geschehen." && !m.querySelector("i")`)
	agentDo("writing a note", chromedp.Click(chromedp.CSS(`#internal`)), chromedp.SendKeys(chromedp.CSS(`#reply-body`), "Stammkundin\r"))
	inbox("the note acknowledged", `const li = Array.from(document.querySelectorAll("#messages li.internal")).pop(); return !!li && !li.classList.contains("pending")`)

	// A file each way: the visitor's arrives in the inbox, the agent's in the widget,
	// and the visitor fetches it across origins with their token.
	dir := t.TempDir()
	plan, answer := filepath.Join(dir, "lieferschein.txt"), filepath.Join(dir, "antwort.txt")
	os.WriteFile(plan, []byte("Lieferschein 4711"), 0o600)
	os.WriteFile(answer, []byte("Neue Sendungsnummer 0815"), 0o600)
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.JSPath(`document.getElementById("sproudchat-root").shadowRoot.querySelector("input[type=file]")`), []string{plan})); err != nil {
		t.Fatalf("the visitor attaching a file: %v", err)
	}
	inbox("the visitor's file", `const a = document.querySelector("#messages li.visitor a.file"); return !!a && a.textContent === "📎 lieferschein.txt" && /\/api\/v1\/chat\/attachments\/\d+$/.test(a.href)`)
	got, err := chromedp.Run(actx, chromedp.Evaluate[string](`fetch(document.querySelector("#messages li.visitor a.file").href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || got != "Lieferschein 4711" {
		t.Fatalf("the agent downloading the visitor's file: %q %v", got, err)
	}
	agentDo("attaching a file", chromedp.SetUploadFiles(chromedp.CSS(`#file`), []string{answer}))
	widget("the agent's file", `const a = r.querySelector(".msg.agent a.file"); return !!a && a.textContent.startsWith("📎 antwort.txt")`)
	msgs, err := h.server.opts.Chat.After(context.Background(), conv.ID, 0)
	if err != nil || msgs[len(msgs)-1].Attachment == nil {
		t.Fatalf("the agent's file is not the last message: %v", err)
	}
	got, err = chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`fetch("%s/api/v1/chat/attachments/%d", {method: "POST",
		body: new URLSearchParams({token: JSON.parse(localStorage.getItem("sproudchat:%s")).token})}).then(r => r.text())`,
		h.http.URL, msgs[len(msgs)-1].Attachment.ID, h.http.URL), chromedp.EvalAwaitPromise))
	if err != nil || got != "Neue Sendungsnummer 0815" {
		t.Fatalf("the visitor downloading the agent's file across origins: %q %v", got, err)
	}

	// The server restarts mid-conversation; meanwhile both sides write.
	h.restart()
	widget("the widget to notice", `return r.host.dataset.state === "disconnected"`)
	inbox("the inbox to notice", `return document.getElementById("inbox").dataset.state === "disconnected"`)
	widget("a message while the server is away", fmt.Sprintf(send, "Sind Sie noch da?"))
	agentDo("an answer while the server is away", chromedp.SendKeys(chromedp.CSS(`#reply-body`), "Ja, einen Moment.\r"))
	widget("reconnected, everything delivered", `return r.host.dataset.state === "connected" && !r.querySelector(".msg.pending") &&
		Array.from(r.querySelectorAll(".msg.agent")).some(m => m.textContent === "Ja, einen Moment.")`)
	inbox("reconnected, everything delivered", `return document.getElementById("inbox").dataset.state === "connected" && !document.querySelector("#messages li.pending") &&
		Array.from(document.querySelectorAll("#messages li.visitor")).some(m => m.textContent.endsWith("Sind Sie noch da?"))`)

	stored, err := h.server.opts.Chat.After(context.Background(), conv.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []string // what each side should show, in stored order
	seen := map[string]bool{}
	var visitorSees []string
	for _, m := range stored {
		key := string(m.Author) + ":" + m.Body
		if seen[key] {
			t.Errorf("stored twice: %s", key)
		}
		seen[key] = true
		if m.Author != "system" {
			want = append(want, key)
		}
		if !m.Internal && m.Author != "system" {
			visitorSees = append(visitorSees, m.Body)
		}
	}
	for _, w := range []string{"visitor:Hallo <b>Team</b>, mein Paket fehlt.", "agent:Danke für Ihre Geduld! <i>Gern</i> geschehen.", "agent:Stammkundin",
		"visitor:lieferschein.txt", "agent:antwort.txt", "visitor:Sind Sie noch da?", "agent:Ja, einen Moment."} {
		if !seen[w] {
			t.Errorf("not stored: %s (stored %v)", w, want)
		}
	}
	inboxShows, err := chromedp.Run(actx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#messages li:not(.system)"), li =>
		(li.classList.contains("visitor") ? "visitor:" : "agent:") + (li.querySelector("a.file")?.textContent.replace("📎 ", "") ?? li.lastChild.textContent))`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(inboxShows, "|") != strings.Join(want, "|") {
		t.Errorf("the inbox shows\n%q\nwant each stored message once, in order\n%q", inboxShows, want)
	}
	widgetShows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.getElementById("sproudchat-root").shadowRoot.querySelectorAll(".msg"), m =>
		m.querySelector("a.file") ? m.querySelector("a.file").textContent.replace(/^📎 | \(.*\)$/g, "") : m.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	// The widget shows messages as they come (its own at once), so a message written
	// while the server was away may sit before an answer stored earlier; each appears once.
	slices.Sort(widgetShows)
	slices.Sort(visitorSees)
	if fmt.Sprint(widgetShows) != fmt.Sprint(visitorSees) {
		t.Errorf("the widget shows\n%q\nwant each message the visitor may see once\n%q", widgetShows, visitorSees)
	}
}

// TestInboxScriptIsSafe: the agent UI's scripts (the inbox, the booking page, the rest)
// build no markup from strings, so a visitor's text can never become markup.
func TestInboxScriptIsSafe(t *testing.T) {
	h := newHarness(t, harnessOptions{}, false)
	for _, name := range []string{"inbox.js", "book.js", "app.js"} {
		r := h.client().get("/static/" + name)
		if r.status != 200 || len(r.body) < 100 {
			t.Fatalf("GET /static/%s: %d", name, r.status)
		}
		for _, unsafe := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
			if strings.Contains(r.body, unsafe) {
				t.Errorf("%s uses %s", name, unsafe)
			}
		}
	}
}
