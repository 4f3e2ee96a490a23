package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/booking"
)

// TestBookingInTheBrowser: a visitor picks a time on /book, fills in the form and sees
// the confirmation; an agent, in their own browser context, sees the booking in the
// calendar.
func TestBookingInTheBrowser(t *testing.T) {
	ctx := browser(t)
	h := newHarness(t, harnessOptions{}, true)
	poll := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { `+js+` })()`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			t.Fatalf("the booking page, waiting for %s: %v", what, err)
		}
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	slot := css(`input[name=start][value="2026-11-04T09:30:00Z"]`) // Wednesday 10:30 in Berlin
	err := chromedp.Do(ctx,
		chromedp.Navigate(h.http.URL+"/book"), // one type: straight to its week
		chromedp.WaitVisible(css(`#book-form`)),
		chromedp.Click(slot),
		chromedp.SendKeys(css(`input[name=name]`), "Frieda"),
		chromedp.SendKeys(css(`input[name=email]`), "frieda@example.org"),
		chromedp.SendKeys(css(`textarea[name=message]`), "Es geht um die Steuer."),
		chromedp.Click(css(`input[name=consent]`)),
		chromedp.Click(css(`#book-form button[type=submit]`)),
		chromedp.WaitVisible(css(`#booking`)),
	)
	if err != nil {
		t.Fatalf("book: %v", err)
	}
	poll("the confirmation", `return document.getElementById("booking").dataset.status === "confirmed" &&
		document.getElementById("booking-when").textContent.includes("10:30") && !!document.querySelector(".flash")`)
	list, err := h.server.opts.Booking.Bookings(t.Context(), bookingFilterAll())
	if err != nil || len(list) != 2 || list[1].Name != "Frieda" || !list[1].Start.Equal(time.Date(2026, 11, 4, 9, 30, 0, 0, time.UTC)) {
		t.Fatalf("stored %+v %v", list, err)
	}
	_, agent := loggedInBrowser(t, ctx, h, accounts.RoleAgent, "/bookings", "#calendar")
	agent("Frieda's booking in the week", fmt.Sprintf(`const a = document.querySelector('#calendar [data-date="2026-11-04"] [data-booking="%d"]');
		return !!a && a.textContent.includes("10:30–11:00") && a.textContent.includes("Frieda")`, list[1].ID))
}

func bookingFilterAll() booking.Filter { return booking.Filter{} }
