package web

import (
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

// TestNoPageScrollsSidewaysOnAPhone: at 390 px, in English and in German (the longer
// labels), logged-in pages fit the screen: the top bar wraps instead of widening the
// page (it made /account 743 px wide in English and 949 px in German).
func TestNoPageScrollsSidewaysOnAPhone(t *testing.T) {
	for _, tc := range []struct{ lang, accept string }{{"en", "en-GB"}, {"de", "de-DE"}} {
		t.Run(tc.lang, func(t *testing.T) {
			ctx := browser(t)
			h := newHarness(t, harnessOptions{}, true)
			ua, err := chromedp.Run(ctx, chromedp.Evaluate[string]("navigator.userAgent"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: tc.accept}); err != nil {
				t.Fatal(err)
			}
			if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: true}); err != nil {
				t.Fatal(err)
			}
			err = chromedp.Do(ctx,
				chromedp.Navigate(h.http.URL+"/login"),
				chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
				chromedp.SendKeys(chromedp.CSS(`input[name=email]`), h.users[accounts.RoleAdmin].Email),
				chromedp.SendKeys(chromedp.CSS(`input[name=password]`), passwordOf(accounts.RoleAdmin)),
				chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS(`header.top`)),
			)
			if err != nil {
				t.Fatalf("log in: %v", err)
			}
			// Pages whose own content is still wider than a phone (the ticket table at
			// 567 px, the chat settings' embed code at 461 px in German) are issue 18's,
			// which walks every page at phone width.
			for _, path := range []string{"/account", "/inbox"} {
				if err := chromedp.Do(ctx, chromedp.Navigate(h.http.URL+path), chromedp.WaitVisible(chromedp.CSS(`header.top`))); err != nil {
					t.Fatalf("open %s: %v", path, err)
				}
				width, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
				if err != nil {
					t.Fatal(err)
				}
				if width > 390 {
					t.Errorf("%s in %s is %d px wide at 390 px: it scrolls sideways", path, tc.lang, width)
				}
			}
		})
	}
}
