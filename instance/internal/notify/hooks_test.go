package notify_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/notify"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// receiver is a local HTTP server standing in for Slack, Discord, Bark or a webhook
// endpoint: it keeps every request and answers as told.
type receiver struct {
	mu      sync.Mutex
	reqs    []*http.Request
	bodies  [][]byte
	answer  func(n int, w http.ResponseWriter) // n: this request's number, from 0
	srv     *httptest.Server
	address string
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter)) *receiver {
	t.Helper()
	r := &receiver{answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.reqs)
		r.reqs, r.bodies = append(r.reqs, req), append(r.bodies, b)
		r.mu.Unlock()
		r.answer(n, w)
	}))
	t.Cleanup(r.srv.Close)
	r.address = r.srv.Listener.Addr().String()
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

func (r *receiver) body(t *testing.T, i int) map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var m map[string]any
	if err := json.Unmarshal(r.bodies[i], &m); err != nil {
		t.Fatalf("request %d is not JSON: %s", i, r.bodies[i])
	}
	return m
}

// team is the instance's users as notify sees them.
type teamList []accounts.User

func (l teamList) ListUsers(context.Context) ([]accounts.User, error) { return l, nil }

var team = teamList{{ID: 1, Email: "ada@acme.example", Active: true}, {ID: 2, Email: "bo@acme.example", Active: true}, {ID: 3, Email: "gone@acme.example"}}

type hookEnv struct {
	hooks *notify.Hooks
	db    *store.DB
	clock *clock.Fake
}

func newHooks(t *testing.T, db *store.DB, loopback bool) hookEnv {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	seal, err := notify.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	mailer := notify.NewMailer(store.NewOutbox(db), nil, mail.Address{Address: "support@acme.example"}, clk, nil)
	h := notify.NewHooks(store.NewHooks(db), seal, mailer, team, notify.HookOptions{Clock: clk, BaseURL: "https://acme.sproud.chat", AllowLoopback: loopback})
	return hookEnv{hooks: h, db: db, clock: clk}
}

func (e hookEnv) target(t *testing.T, in notify.TargetInput) notify.Target {
	t.Helper()
	if in.Events == nil {
		in.Events = []string{notify.EventChatNew}
	}
	tg, _, err := e.hooks.CreateTarget(context.Background(), in)
	if err != nil {
		t.Fatalf("create %s target: %v", in.Kind, err)
	}
	return tg
}

// visitorText is what a visitor might write: markup, mentions and a link trick.
const visitorText = `Hi <!channel> @everyone & <https://evil.example|click> *now*`

func (e hookEnv) publish(t *testing.T) {
	t.Helper()
	ev := notify.Event{Type: notify.EventChatNew, Title: "New chat from Lena", Text: visitorText, URL: "https://acme.sproud.chat/inbox?c=7",
		Data: map[string]any{"conversation_id": 7}}
	if err := e.hooks.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if _, err := e.hooks.Deliver(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (e hookEnv) delivery(t *testing.T) (status string, attempts int) {
	t.Helper()
	var row struct {
		Status   string
		Attempts int
	}
	if err := e.db.Gorm().Raw("SELECT status, attempts FROM notify_deliveries ORDER BY id DESC LIMIT 1").Scan(&row).Error; err != nil {
		t.Fatal(err)
	}
	return row.Status, row.Attempts
}

// TestSlackPayload: Slack's incoming webhook gets text (the fallback) and blocks, with
// the visitor's text escaped so it cannot mention or link; only "200 ok" counts.
func TestSlackPayload(t *testing.T) {
	e := newHooks(t, storetest.MustOpen(t, store.SQLite), true)
	rx := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 0 {
			w.Write([]byte("no_service")) // 200 but not "ok": not delivered
			return
		}
		w.Write([]byte("ok"))
	})
	e.target(t, notify.TargetInput{Kind: notify.KindSlack, URL: rx.srv.URL + "/services/T000/B000/XXXX"})
	e.publish(t)
	if s, n := e.delivery(t); s != "pending" || n != 1 {
		t.Fatalf("after a 200 that is not ok: %s after %d attempts", s, n)
	}
	e.clock.Advance(time.Minute)
	e.hooks.Deliver(context.Background())
	if s, n := e.delivery(t); s != "sent" || n != 2 {
		t.Fatalf("delivery %s after %d attempts", s, n)
	}
	if r := rx.reqs[1]; r.Method != "POST" || r.URL.Path != "/services/T000/B000/XXXX" || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("request %s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	b := rx.body(t, 1)
	escaped := "Hi &lt;!channel&gt; @everyone &amp; &lt;https://evil.example|click&gt; *now*"
	if b["text"] != "New chat from Lena: "+escaped {
		t.Errorf("text %q", b["text"])
	}
	blocks := b["blocks"].([]any)
	section := blocks[0].(map[string]any)
	wantSection := map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*New chat from Lena*\n" + escaped}}
	if diff := cmp.Diff(wantSection, section); diff != "" {
		t.Errorf("section (-want +got):\n%s", diff)
	}
	ctxBlock := blocks[1].(map[string]any)
	if ctxBlock["type"] != "context" || !strings.Contains(ctxBlock["elements"].([]any)[0].(map[string]any)["text"].(string), "<https://acme.sproud.chat/inbox?c=7|") {
		t.Errorf("context block %v", ctxBlock)
	}
}

// TestDiscordPayloadAndRateLimit: Discord gets content and an embed within its
// limits, no mentions parsed; a 429 is retried only after Retry-After.
func TestDiscordPayloadAndRateLimit(t *testing.T) {
	e := newHooks(t, storetest.MustOpen(t, store.SQLite), true)
	rx := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 0 {
			w.Header().Set("Retry-After", "7")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(429)
			w.Write([]byte(`{"message": "You are being rate limited.", "retry_after": 6.5, "global": false}`))
			return
		}
		w.WriteHeader(204)
	})
	e.target(t, notify.TargetInput{Kind: notify.KindDiscord, URL: rx.srv.URL + "/api/webhooks/1/abc"})
	ev := notify.Event{Type: notify.EventChatNew, Title: strings.Repeat("T", 2500), Text: visitorText + strings.Repeat("x", 7000)}
	e.hooks.Publish(context.Background(), ev)
	e.hooks.Deliver(context.Background())
	e.clock.Advance(6 * time.Second)
	e.hooks.Deliver(context.Background())
	if rx.count() != 1 {
		t.Fatalf("retried %d times before Retry-After passed", rx.count()-1)
	}
	e.clock.Advance(time.Second)
	e.hooks.Deliver(context.Background())
	if s, n := e.delivery(t); s != "sent" || n != 2 || rx.count() != 2 {
		t.Fatalf("delivery %s after %d attempts, %d requests", s, n, rx.count())
	}
	b := rx.body(t, 1)
	if am := b["allowed_mentions"].(map[string]any); len(am["parse"].([]any)) != 0 {
		t.Errorf("allowed_mentions %v", am)
	}
	if c := b["content"].(string); utf8.RuneCountInString(c) > 2000 {
		t.Errorf("content of %d characters", utf8.RuneCountInString(c))
	}
	embed := b["embeds"].([]any)[0].(map[string]any)
	title, desc := embed["title"].(string), embed["description"].(string)
	if utf8.RuneCountInString(title) > 256 || utf8.RuneCountInString(desc) > 4096 || utf8.RuneCountInString(title)+utf8.RuneCountInString(desc) > 6000 {
		t.Errorf("embed of %d+%d characters", utf8.RuneCountInString(title), utf8.RuneCountInString(desc))
	}
	if !strings.HasPrefix(desc, visitorText) {
		t.Errorf("description %q", desc[:80])
	}
}

// TestBarkPayload: Bark gets POST /push with the documented JSON fields.
func TestBarkPayload(t *testing.T) {
	e := newHooks(t, storetest.MustOpen(t, store.SQLite), true)
	rx := newReceiver(t, func(int, http.ResponseWriter) {})
	e.target(t, notify.TargetInput{Kind: notify.KindBark, Server: rx.srv.URL + "/", DeviceKey: "qPo8xKeYa1b2"})
	e.publish(t)
	if rx.count() != 1 || rx.reqs[0].URL.Path != "/push" {
		t.Fatalf("%d requests", rx.count())
	}
	b := rx.body(t, 0)
	want := map[string]any{"device_key": "qPo8xKeYa1b2", "title": "New chat from Lena", "body": visitorText, "group": "sproudchat",
		"url": "https://acme.sproud.chat/inbox?c=7", "level": "active"}
	for k, v := range want {
		if b[k] != v {
			t.Errorf("%s = %v, want %v", k, b[k], v)
		}
	}
}

// TestWebhookIsSignedAndSurvivesAnOutage: the generic webhook carries an HMAC
// signature the receiver can check; while the receiver is down the delivery is
// retried with backoff, and once it is back it arrives, with the same delivery id.
func TestWebhookIsSignedAndSurvivesAnOutage(t *testing.T) {
	e := newHooks(t, storetest.MustOpen(t, store.SQLite), true)
	down := true
	var mu sync.Mutex
	rx := newReceiver(t, func(n int, w http.ResponseWriter) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			w.WriteHeader(503)
		}
	})
	tg, secret, err := e.hooks.CreateTarget(context.Background(), notify.TargetInput{Kind: notify.KindWebhook, URL: rx.srv.URL + "/hook", Events: []string{notify.EventChatNew}})
	if err != nil || !strings.HasPrefix(secret, "whsec_") || tg.ID == 0 {
		t.Fatalf("create: %v %q", err, secret)
	}
	e.publish(t)
	for range 3 { // still down: each retry waits longer
		e.clock.Advance(2 * time.Minute)
		e.hooks.Deliver(context.Background())
	}
	if s, n := e.delivery(t); s != "pending" || n != 4 {
		t.Fatalf("while down: %s after %d attempts", s, n)
	}
	// Also down: the connection itself fails.
	rx.srv.Close()
	e.clock.Advance(10 * time.Minute)
	e.hooks.Deliver(context.Background())
	if s, n := e.delivery(t); s != "pending" || n != 5 {
		t.Fatalf("while unreachable: %s after %d attempts", s, n)
	}
	ln, err := net.Listen("tcp", rx.address)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	rx.srv = httptest.NewUnstartedServer(rx.srv.Config.Handler)
	rx.srv.Listener = ln
	rx.srv.Start()
	t.Cleanup(rx.srv.Close)
	e.clock.Advance(time.Hour)
	e.hooks.Deliver(context.Background())
	e.clock.Advance(time.Hour)
	e.hooks.Deliver(context.Background())
	if s, n := e.delivery(t); s != "sent" || n != 6 {
		t.Fatalf("after the outage: %s after %d attempts", s, n)
	}
	ids := map[string]bool{}
	for i, r := range rx.reqs {
		ids[r.Header.Get("Sproud-Delivery")] = true
		sig := r.Header.Get("Sproud-Signature")
		parts := strings.Split(sig, ",")
		if len(parts) != 2 || !strings.HasPrefix(parts[0], "t=") || !strings.HasPrefix(parts[1], "v1=") {
			t.Fatalf("signature header %q", sig)
		}
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(strings.TrimPrefix(parts[0], "t=") + "." + string(rx.bodies[i])))
		if want := hex.EncodeToString(m.Sum(nil)); strings.TrimPrefix(parts[1], "v1=") != want {
			t.Fatalf("request %d: signature %s, want %s", i, parts[1], want)
		}
		if b := rx.body(t, i); b["id"] != r.Header.Get("Sproud-Delivery") || b["type"] != "chat.new" || b["text"] != visitorText {
			t.Fatalf("request %d body %v", i, b)
		}
	}
	if len(ids) != 1 || rx.count() != 5 {
		t.Fatalf("%d requests with delivery ids %v; want one id throughout", rx.count(), ids)
	}
	log, err := e.hooks.Log(context.Background(), tg.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	// Newest first: delivered, unreachable, then four times down.
	type try struct {
		StatusCode int
		Error      bool
	}
	var got []try
	for _, a := range log {
		got = append(got, try{a.StatusCode, a.Error != ""})
	}
	down503 := try{StatusCode: 503, Error: true}
	if diff := cmp.Diff([]try{{StatusCode: 200}, {Error: true}, down503, down503, down503, down503}, got); diff != "" {
		t.Fatalf("log (-want +got):\n%s", diff)
	}
}

// TestTargetsAreSealedAndGuarded: what reaches a target is never stored in clear;
// plain http and private addresses are refused, after DNS too, and redirects are not
// followed.
func TestTargetsAreSealedAndGuarded(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newHooks(t, db, false)
		secretURL := "https://hooks.slack.com/services/T0SECRET/B0SECRET/abcdefSECRETkey"
		tg := e.target(t, notify.TargetInput{Kind: notify.KindSlack, URL: secretURL})
		e.target(t, notify.TargetInput{Kind: notify.KindBark, DeviceKey: "DEVICEKEYSECRET99"})
		e.target(t, notify.TargetInput{Kind: notify.KindWebhook, URL: "https://example.org/in", Secret: "SIGNINGSECRET-0123456789"})
		var rows []struct {
			ConfigSealed []byte
			Hint         string
			Name         string
		}
		if err := db.Gorm().Raw("SELECT config_sealed, hint, name FROM notify_targets").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			for _, secret := range []string{"SECRET", "hooks.slack.com", "services", "DEVICEKEY", "example.org", "SIGNING"} {
				if bytes.Contains(r.ConfigSealed, []byte(secret)) || strings.Contains(r.Name, secret) || strings.Contains(r.Hint, "SECRET") {
					t.Fatalf("%q readable in the stored row %+v", secret, r)
				}
			}
		}
		got, err := e.hooks.Target(ctx, tg.ID)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		type opened struct{ URL, Hint string }
		if diff := cmp.Diff(opened{secretURL, "hooks.slack.com …Tkey"}, opened{got.Config.URL, got.Hint}); diff != "" {
			t.Fatalf("opened (-want +got):\n%s", diff)
		}
		// Deleting a target takes its queue with it.
		if err := e.hooks.Publish(ctx, notify.Event{Type: notify.EventChatNew, Title: "x"}); err != nil {
			t.Fatal(err)
		}
		if err := e.hooks.DeleteTarget(ctx, tg.ID); err != nil {
			t.Fatal(err)
		}
		var left int64
		db.Gorm().Table("notify_deliveries").Where("target_id = ?", tg.ID).Count(&left)
		if left != 0 {
			t.Fatalf("%d deliveries of the deleted target left", left)
		}
		if err := e.hooks.DeleteTarget(ctx, tg.ID); !errors.Is(err, instance.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
		for _, bad := range []notify.TargetInput{{Kind: notify.KindSlack, URL: "http://hooks.example.com/x"}, {Kind: notify.KindDiscord, URL: "https://user:pw@discord.com/api"},
			{Kind: notify.KindWebhook, URL: "https://example.org/in", Secret: "short"}, {Kind: "pager"}, {Kind: notify.KindBark},
			{Kind: notify.KindEmail}, {Kind: notify.KindSlack, URL: "https://x.example", Events: []string{"everything"}}} {
			if _, _, err := e.hooks.CreateTarget(ctx, bad); err == nil {
				t.Errorf("accepted %+v", bad)
			}
		}
	})
	// Addresses inside are refused when connecting, whatever the URL says.
	e := newHooks(t, storetest.MustOpen(t, store.SQLite), false)
	hits := 0
	rx := newReceiver(t, func(int, http.ResponseWriter) { hits++ })
	port := rx.srv.URL[strings.LastIndex(rx.srv.URL, ":"):]
	for _, u := range []string{"https://127.0.0.1" + port + "/x", "https://localhost" + port + "/x", "https://[::1]" + port + "/x", "https://169.254.169.254/latest",
		"https://10.1.2.3/x", "https://192.168.1.1/x", "https://100.64.0.1/x"} {
		t.Run(u, func(t *testing.T) {
			tg := e.target(t, notify.TargetInput{Kind: notify.KindDiscord, URL: u})
			a, err := e.hooks.Test(context.Background(), tg.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(a.Error, "not allowed") {
				t.Errorf("attempt %+v; want an error saying the address is not allowed", a)
			}
		})
	}
	if hits != 0 {
		t.Fatalf("the guard let %d requests through", hits)
	}
	// A redirect is not followed (in loopback test mode, which still guards the rest).
	e = newHooks(t, storetest.MustOpen(t, store.SQLite), true)
	inner := newReceiver(t, func(int, http.ResponseWriter) {})
	redirect := newReceiver(t, func(_ int, w http.ResponseWriter) {
		w.Header().Set("Location", inner.srv.URL+"/stolen")
		w.WriteHeader(307)
	})
	tg := e.target(t, notify.TargetInput{Kind: notify.KindDiscord, URL: redirect.srv.URL + "/hook"})
	if a, _ := e.hooks.Test(context.Background(), tg.ID); a.StatusCode != 307 || inner.count() != 0 {
		t.Fatalf("redirect: attempt %+v, the redirect's target got %d requests", a, inner.count())
	}
}

// TestEmailTargetAndLogRetention: an e-mail target queues mail to the chosen users who
// are active; the delivery log is pruned after 90 days by the clock.
func TestEmailTargetAndLogRetention(t *testing.T) {
	db := storetest.MustOpen(t, store.SQLite)
	e := newHooks(t, db, true)
	e.target(t, notify.TargetInput{Kind: notify.KindEmail, UserIDs: []int64{2, 3}})
	e.publish(t)
	var to []string
	db.Gorm().Raw("SELECT to_addr FROM outbox").Scan(&to)
	if len(to) != 1 || to[0] != "bo@acme.example" {
		t.Fatalf("mail to %v", to)
	}
	db.Gorm().Exec("DELETE FROM notify_targets")
	rx := newReceiver(t, func(int, http.ResponseWriter) {})
	tg := e.target(t, notify.TargetInput{Kind: notify.KindWebhook, URL: rx.srv.URL, Secret: "0123456789abcdef0123"})
	e.publish(t)
	if log, _ := e.hooks.Log(context.Background(), tg.ID, 10); len(log) != 1 {
		t.Fatalf("log %+v", log)
	}
	e.clock.Advance(89 * 24 * time.Hour)
	e.hooks.Prune(context.Background())
	if log, _ := e.hooks.Log(context.Background(), tg.ID, 10); len(log) != 1 {
		t.Fatalf("pruned before 90 days: %+v", log)
	}
	e.clock.Advance(2 * 24 * time.Hour)
	if n, err := e.hooks.Prune(context.Background()); err != nil || n != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
	var left int64
	db.Gorm().Table("notify_deliveries").Count(&left)
	if log, _ := e.hooks.Log(context.Background(), tg.ID, 10); len(log) != 0 || left != 0 {
		t.Fatalf("after 91 days: log %+v, %d deliveries", log, left)
	}
}
