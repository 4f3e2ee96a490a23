package web

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
)

// browser starts Debian's Chromium for one test. Without it the test skips, and under
// CI=true fails.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed; .ci/run installs Debian's chromium package")
		}
		t.Skip("chromium is not installed")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return ctx
}

// TestAgentAnswersATicketInTheBrowser: an agent logs in, opens a ticket, replies and
// sets it to pending, all by clicking; the test reads what the page shows.
func TestAgentAnswersATicketInTheBrowser(t *testing.T) {
	ctx := browser(t)
	h := newHarness(t, harnessOptions{}, true)
	tk, err := h.server.opts.Tickets.Create(context.Background(), nil, tickets.NewTicket{Subject: "Drucker druckt nicht",
		RequesterName: "Paul", RequesterEmail: "paul@example.org", Body: "Seit gestern <b>nichts</b> mehr."})
	if err != nil {
		t.Fatal(err)
	}
	base := h.http.URL
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return v
	}
	row := css(fmt.Sprintf(`tr[data-ticket-id="%d"] a`, tk.ID))
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(css(`input[name=email]`)),
		chromedp.SendKeys(css(`input[name=email]`), h.users[accounts.RoleAgent].Email),
		chromedp.SendKeys(css(`input[name=password]`), passwordOf(accounts.RoleAgent)),
		chromedp.Click(css(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(css(`header.top`)),
		chromedp.Click(css(`a[href="/tickets"]`)),
		chromedp.WaitVisible(row),
		chromedp.Click(row),
		chromedp.WaitVisible(css(`#reply-form textarea`)),
	)
	if err != nil {
		t.Fatalf("log in and open the ticket: %v", err)
	}
	title := text(`#ticket-title`)
	err = chromedp.Do(ctx,
		chromedp.SendKeys(css(`#reply-form textarea`), "Bitte starten Sie den Drucker neu."),
		chromedp.Click(css(`#reply-form button[type=submit]`)),
		chromedp.WaitVisible(css(`article.k-reply`)),
	)
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	reply := text(`article.k-reply .body`)
	err = chromedp.Do(ctx,
		chromedp.SetValue(css(`#status-select`), "pending"),
		chromedp.Click(css(`#ticket-fields button[type=submit]`)),
		chromedp.WaitVisible(css(`#ticket-status.s-pending`)),
	)
	if err != nil {
		t.Fatalf("change status: %v", err)
	}
	status, conversation := text(`#ticket-status`), text(`section.conversation`)
	if title != fmt.Sprintf("#%d Drucker druckt nicht", tk.ID) {
		t.Errorf("title %q", title)
	}
	if strings.TrimSpace(reply) != "Bitte starten Sie den Drucker neu." {
		t.Errorf("reply shown as %q", reply)
	}
	if strings.TrimSpace(status) != "Pending" {
		t.Errorf("status shown as %q", status)
	}
	if !strings.Contains(conversation, "Seit gestern <b>nichts</b> mehr.") {
		t.Errorf("the requester's HTML is not shown as text: %q", conversation)
	}
}
