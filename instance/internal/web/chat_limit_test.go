package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/notify"
)

// startChatFrom starts a chat through the API as a visitor behind the edge router at
// address ip (the router's X-Forwarded-For is trusted from loopback).
func (h *harness) startChatFrom(ip, lang string, body any) response {
	h.t.Helper()
	c := h.client()
	hdr := map[string]string{"X-Forwarded-For": ip, "Accept-Language": lang}
	b := `{"name":"Flood"}`
	if body != nil {
		b = fmt.Sprint(body)
	}
	return c.do("POST", "/api/v1/chat/conversations", "application/json", strings.NewReader(b), hdr)
}

func (h *harness) conversations() int64 {
	h.t.Helper()
	var n int64
	if err := h.db.Gorm().Table("chat_conversations").Count(&n).Error; err != nil {
		h.t.Fatal(err)
	}
	return n
}

// TestChatStartsAreLimitedPerAddress: one address starts at most chatStartsPerWindow
// chats per window; the rest get 429 problem+json with Retry-After and a detail in the
// visitor's language, and nothing is stored. Other addresses, and the same one after
// the window, are not affected; a refused form (a bad address) costs no chat.
func TestChatStartsAreLimitedPerAddress(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	before := h.conversations()
	codes := map[int]int{}
	for i := range 100 {
		r := h.startChatFrom("198.51.100.7", "en", nil)
		codes[r.status]++
		if r.status == http.StatusTooManyRequests {
			p := r.problem(t)
			secs, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil || secs < 1 || secs > int(chatStartWindow/time.Second) || p.Detail != plural("en", "chat.slow_down", 10) {
				t.Fatalf("refusal %d: Retry-After %q, %+v", i, r.header.Get("Retry-After"), p)
			}
		}
	}
	if codes[201] != chatStartsPerWindow || codes[429] != 100-chatStartsPerWindow {
		t.Fatalf("answers %v, want %d × 201 and the rest 429", codes, chatStartsPerWindow)
	}
	if n := h.conversations() - before; n != chatStartsPerWindow {
		t.Fatalf("%d conversations stored, want %d", n, chatStartsPerWindow)
	}
	if r := h.startChatFrom("198.51.100.7", "de-DE,de;q=0.9", nil); r.status != 429 || r.problem(t).Detail != plural("de", "chat.slow_down", 10) {
		t.Fatalf("refusal in German: %d %s", r.status, r.body)
	}
	if r := h.startChatFrom("198.51.100.8", "en", nil); r.status != 201 {
		t.Fatalf("another address: %d %s", r.status, r.body)
	}

	h.clock.Advance(chatStartWindow)
	for range 3 {
		if r := h.startChatFrom("198.51.100.7", "en", `{"email":"not an address"}`); r.status != 422 {
			t.Fatalf("bad address: %d %s", r.status, r.body)
		}
	}
	for i := range chatStartsPerWindow {
		if r := h.startChatFrom("198.51.100.7", "en", nil); r.status != 201 {
			t.Fatalf("chat %d after the window and three refused forms: %d %s", i, r.status, r.body)
		}
	}
	if r := h.startChatFrom("198.51.100.7", "en", nil); r.status != 429 {
		t.Fatalf("one more: %d", r.status)
	}
}

// TestChatStartsAreLimitedInParallel: 100 chats started at once from one address
// store no more than the limit.
func TestChatStartsAreLimitedInParallel(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	before := h.conversations()
	var (
		mu    sync.Mutex
		codes = map[int]int{}
		wg    sync.WaitGroup
	)
	for range 100 {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", h.http.URL+"/api/v1/chat/conversations", strings.NewReader(`{"name":"Flood"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", "198.51.100.7")
			status := 0
			if res, err := http.DefaultClient.Do(req); err == nil {
				status = res.StatusCode
				res.Body.Close()
			}
			mu.Lock()
			codes[status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[201] != chatStartsPerWindow || codes[429] != 100-chatStartsPerWindow {
		t.Fatalf("answers %v, want %d × 201 and the rest 429", codes, chatStartsPerWindow)
	}
	if n := h.conversations() - before; n != chatStartsPerWindow {
		t.Fatalf("%d conversations stored, want %d", n, chatStartsPerWindow)
	}
}

// TestChatFloodNotifiesOnce: 30 chats in one minute, from as many addresses, tell a
// webhook and an e-mail target once at the first and once after the minute, with the
// count; the next chat after a quiet minute tells them again.
func TestChatFloodNotifiesOnce(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	ctx := context.Background()
	rx := newHookInbox(t)
	admin := h.loggedIn(accounts.RoleAdmin)
	for _, target := range []map[string]any{
		{"kind": "webhook", "url": rx.srv.URL, "events": []string{"chat.new"}},
		{"kind": "email", "user_ids": []int64{h.users[accounts.RoleAdmin].ID, h.users[accounts.RoleAgent].ID}, "events": []string{"chat.new"}},
	} {
		if r := admin.json("POST", "/api/v1/notifications/targets", target); r.status != 201 {
			t.Fatalf("create target: %d %s", r.status, r.body)
		}
	}
	deliver := func() {
		t.Helper()
		if _, err := h.server.opts.Hooks.Deliver(ctx); err != nil {
			t.Fatal(err)
		}
	}
	told := func(counts ...int) {
		t.Helper()
		rx.mu.Lock()
		events := append([]map[string]any(nil), rx.events...)
		rx.mu.Unlock()
		var got []string
		for _, ev := range events {
			got = append(got, fmt.Sprint(ev["data"].(map[string]any)["count"]))
		}
		mails, err := h.mailer.Outbox(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range mails {
			if m.Kind == "notification" {
				n++
			}
		}
		if want := strings.Trim(fmt.Sprint(counts), "[]"); strings.Join(got, " ") != want || n != 2*len(counts) {
			t.Fatalf("webhook told with counts %q, %d notification mails; want %q and %d", got, n, want, 2*len(counts))
		}
	}
	for i := range 30 {
		if i > 0 {
			h.clock.Advance(2 * time.Second)
		}
		if r := h.startChatFrom(fmt.Sprintf("198.51.100.%d", i+1), "en", nil); r.status != 201 {
			t.Fatalf("chat %d: %d %s", i, r.status, r.body)
		}
		deliver()
	}
	told(1)
	h.clock.Advance(2 * time.Second)
	deliver()
	told(1, 29)
	h.clock.Advance(2 * notify.CoalesceWindow)
	if r := h.startChatFrom("198.51.100.200", "en", nil); r.status != 201 {
		t.Fatalf("the next chat: %d %s", r.status, r.body)
	}
	deliver()
	told(1, 29, 1)
}
