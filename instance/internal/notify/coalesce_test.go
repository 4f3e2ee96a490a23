package notify_test

import (
	"context"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/notify"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
	"github.com/sproudstack/sproudchat/platform/clock"
)

func chatNew(i int) notify.Event {
	return notify.Event{Type: notify.EventChatNew, Title: fmt.Sprintf("New chat from visitor %d", i), Text: "On your website",
		URL: fmt.Sprintf("https://acme.sproud.chat/inbox?c=%d", i), Data: map[string]any{"conversation_id": i}}
}

// coalesceEnv is a webhook target and an e-mail target (two active users), both told of
// new chats, over one database; hooks can be made again over it, as after a restart.
type coalesceEnv struct {
	db    *store.DB
	clock *clock.Fake
	rx    *receiver
}

func (e coalesceEnv) hooks(t *testing.T) *notify.Hooks {
	t.Helper()
	seal, err := notify.NewSealer([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	mailer := notify.NewMailer(store.NewOutbox(e.db), nil, mail.Address{Address: "support@acme.example"}, e.clock, nil)
	return notify.NewHooks(store.NewHooks(e.db), seal, mailer, team, notify.HookOptions{Clock: e.clock, BaseURL: "https://acme.sproud.chat", AllowLoopback: true})
}

func newCoalesceEnv(t *testing.T, db *store.DB) (coalesceEnv, *notify.Hooks) {
	t.Helper()
	e := coalesceEnv{db: db, clock: clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)), rx: newReceiver(t, func(int, http.ResponseWriter) {})}
	h := e.hooks(t)
	for _, in := range []notify.TargetInput{
		{Kind: notify.KindWebhook, URL: e.rx.srv.URL + "/hook", Events: []string{notify.EventChatNew}},
		{Kind: notify.KindEmail, UserIDs: []int64{1, 2}, Events: []string{notify.EventChatNew}},
	} {
		if _, _, err := h.CreateTarget(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	return e, h
}

// mails returns the subjects in the outbox, oldest first.
func (e coalesceEnv) mails(t *testing.T) []string {
	t.Helper()
	var subjects []string
	if err := e.db.Gorm().Raw("SELECT subject FROM outbox ORDER BY id").Scan(&subjects).Error; err != nil {
		t.Fatal(err)
	}
	return subjects
}

// told checks what the webhook received: one request per notification, with the
// counts given, and two mails (one per user) for each.
func (e coalesceEnv) told(t *testing.T, counts ...int) {
	t.Helper()
	if got := e.rx.count(); got != len(counts) {
		t.Fatalf("the webhook got %d notifications, want %d", got, len(counts))
	}
	subjects := e.mails(t)
	if len(subjects) != 2*len(counts) {
		t.Fatalf("%d mails queued (%q), want %d", len(subjects), subjects, 2*len(counts))
	}
	for i, want := range counts {
		b := e.rx.body(t, i)
		data, _ := b["data"].(map[string]any)
		if data["count"] != float64(want) {
			t.Errorf("notification %d: data.count %v, want %d (%v)", i, data["count"], want, b)
		}
		more := fmt.Sprintf(", and %d more", want-1)
		for _, title := range []string{b["title"].(string), subjects[2*i], subjects[2*i+1]} {
			if (want > 1) != strings.HasSuffix(title, more) {
				t.Errorf("notification %d (count %d): title %q", i, want, title)
			}
		}
	}
}

// TestChatFloodTellsEachTargetOncePerMinute: 30 chats in a minute tell each target
// once at the first, and once when the minute is over with the count of the others,
// even across a restart; chats after that quiet minute tell it again at once.
func TestChatFloodTellsEachTargetOncePerMinute(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e, h := newCoalesceEnv(t, db)
		deliver := func(h *notify.Hooks) {
			t.Helper()
			if _, err := h.Deliver(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 30 { // one every 2 seconds, from 0 to 58 s
			if i > 0 {
				e.clock.Advance(2 * time.Second)
			}
			if err := h.Publish(ctx, chatNew(i)); err != nil {
				t.Fatal(err)
			}
			deliver(h) // the worker runs every few seconds
		}
		e.told(t, 1)

		// A restart inside the minute: what waits is in the database.
		h = e.hooks(t)
		e.clock.Advance(time.Second)
		deliver(h)
		e.told(t, 1)
		e.clock.Advance(time.Second) // a minute after the first
		deliver(h)
		e.told(t, 1, 29)
		if b := e.rx.body(t, 1); !strings.HasPrefix(b["title"].(string), "New chat from visitor 1,") {
			t.Errorf("the summary is titled %q; want the first chat it counts", b["title"])
		}

		// One more chat within a minute of the summary waits for the next one.
		e.clock.Advance(30 * time.Second)
		if err := h.Publish(ctx, chatNew(30)); err != nil {
			t.Fatal(err)
		}
		deliver(h)
		e.told(t, 1, 29)
		e.clock.Advance(30 * time.Second)
		deliver(h)
		e.told(t, 1, 29, 1)

		// After a quiet minute the next chat is told at once.
		e.clock.Advance(5 * time.Minute)
		if err := h.Publish(ctx, chatNew(31)); err != nil {
			t.Fatal(err)
		}
		deliver(h)
		e.told(t, 1, 29, 1, 1)
	})
}

// TestConcurrentChatsAreCountedOnce: chats published at the same time, from many
// goroutines, make one notification now and one summary counting the rest.
func TestConcurrentChatsAreCountedOnce(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e, h := newCoalesceEnv(t, db)
		var wg sync.WaitGroup
		errs := make(chan error, 30)
		for i := range 30 {
			wg.Go(func() { errs <- h.Publish(ctx, chatNew(i)) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := h.Deliver(ctx); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(notify.CoalesceWindow)
		if _, err := h.Deliver(ctx); err != nil {
			t.Fatal(err)
		}
		e.told(t, 1, 29)
	})
}
