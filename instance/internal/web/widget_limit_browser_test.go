package web

import (
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestWidgetSaysWhenTooManyChatsWereStarted: once the visitor's address has started
// its chats for the window, the widget's pre-chat form says so in the visitor's
// language, and keeps what they typed.
func TestWidgetSaysWhenTooManyChatsWereStarted(t *testing.T) {
	for _, tc := range []struct{ lang, accept, start string }{
		{"en", "en-GB", "Start chat"},
		{"de", "de-DE", "Chat starten"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			ctx := browser(t)
			h := newHarness(t, harnessOptions{}, true)
			site := allowedSite(t, h)
			agentInbox(t, h)
			for i := range chatStartsPerWindow { // the same address as the browser's
				if r := h.client().json("POST", "/api/v1/chat/conversations", map[string]string{"name": "earlier"}); r.status != 201 {
					t.Fatalf("chat %d: %d %s", i, r.status, r.body)
				}
			}
			ua, err := chromedp.Run(ctx, chromedp.Evaluate[string]("navigator.userAgent"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: tc.accept}); err != nil {
				t.Fatal(err)
			}
			poll := openWidget(t, ctx, site)
			poll("the pre-chat form in "+tc.lang, fmt.Sprintf(`const f = r.querySelector("form.pre"); return !f.hidden && f.querySelector("button[type=submit]").textContent === %q`, tc.start))
			poll("the form sent", `const f = r.querySelector("form.pre"); f.name.value = "Lena"; f.email.value = "lena@example.org"; f.consent.checked = true; f.requestSubmit(); return true`)
			want := plural(tc.lang, "chat.slow_down", 10)
			poll(fmt.Sprintf("the status %q", want), fmt.Sprintf(`return r.querySelector(".status").textContent === %q`, want))
			poll("the form as typed, still offered", `const f = r.querySelector("form.pre"); return !f.hidden && f.name.value === "Lena" && f.email.value === "lena@example.org" && r.querySelector("form.compose").hidden`)
			if n := h.conversations(); n != 2+int64(chatStartsPerWindow) { // the harness's two, and the address's
				t.Fatalf("%d conversations stored", n)
			}
		})
	}
}
