package livechat_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
	"github.com/sproudstack/sproudchat/instance/internal/web/livechat"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// rig is a chat service over a real database and an httptest server whose one route
// upgrades to WebSocket and hands the connection to livechat: a visitor of conv unless
// ?agent=1.
type rig struct {
	t      *testing.T
	clock  *clock.Fake
	chat   *chat.Service
	conv   chat.Conversation
	url    string
	ticks  chan time.Time
	served chan struct{} // a value each time Serve returns
	counts *livechat.Counter
}

type rigOptions struct {
	readOnly     bool
	writeTimeout time.Duration
	perChat      int // visitor connections per chat before the oldest is replaced
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	db := storetest.MustOpen(t, store.SQLite)
	clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	svc := chat.NewService(store.NewChat(db), chat.NewHub(), chat.Options{Clock: clk})
	conv, _, err := svc.Start(t.Context(), "Rita", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if o.perChat == 0 {
		o.perChat = livechat.VisitorsPerChat
	}
	r := &rig{t: t, clock: clk, chat: svc, conv: conv, ticks: make(chan time.Time), served: make(chan struct{}, 16),
		counts: livechat.NewCounter(o.perChat, 0, 0)}
	sessions := livechat.New(livechat.Options{Chat: svc, Typing: svc.Hub(), Clock: clk, ReadOnly: o.readOnly, WriteTimeout: o.writeTimeout,
		Ticker: func(time.Duration) (<-chan time.Time, func()) { return r.ticks, func() {} }})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		defer func() { r.served <- struct{}{} }()
		peer := livechat.Peer{Author: chat.Visitor, Conversation: conv.ID}
		var sub *chat.Subscriber
		if req.URL.Query().Get("agent") == "1" {
			peer = livechat.Peer{Author: chat.Agent}
			sub = svc.Hub().SubscribeAgent(1, 1024)
		} else {
			sk, err := r.counts.Admit(conv.ID, "a")
			if err != nil {
				http.Error(w, err.Error(), http.StatusTooManyRequests)
				return
			}
			defer r.counts.Release(sk)
			peer.Replaced = sk.Replaced
			sub = svc.Hub().SubscribeConversation(conv.ID, 32)
		}
		defer svc.Hub().Unsubscribe(sub)
		conn, err := websocket.Accept(w, req, nil)
		if err != nil {
			return
		}
		sessions.Serve(req.Context(), conn, sub, peer)
	}))
	t.Cleanup(ts.Close)
	r.url = "ws" + strings.TrimPrefix(ts.URL, "http")
	return r
}

func (r *rig) dial(query string) *websocket.Conn {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, r.url+"/"+query, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { conn.CloseNow() })
	return conn
}

func send(t *testing.T, conn *websocket.Conn, f livechat.Frame) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, conn, f); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, conn *websocket.Conn) livechat.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var f livechat.Frame
	if err := wsjson.Read(ctx, conn, &f); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	f.At = time.Time{}
	return f
}

// summary is a frame with what the tests compare.
type summary struct {
	Type, ClientID, Body, Detail string
	Seq                          int64
}

func sum(f livechat.Frame) summary {
	return summary{Type: f.Type, ClientID: f.ClientID, Body: f.Body, Detail: f.Detail, Seq: f.Seq}
}

// readSplit reads n frames and returns the acks and errors apart from the messages:
// each stream has its own order, but the two interleave as they happen to.
func readSplit(t *testing.T, conn *websocket.Conn, n int) (replies, messages []summary) {
	t.Helper()
	for range n {
		f := read(t, conn)
		if f.Type == "message" {
			messages = append(messages, sum(f))
		} else {
			replies = append(replies, sum(f))
		}
	}
	return replies, messages
}

func TestSendsAreAckedAndEchoedOnceInOrder(t *testing.T) {
	r := newRig(t, rigOptions{})
	conn := r.dial("")
	for _, id := range []string{"a", "b", "c"} {
		send(t, conn, livechat.Frame{Type: "send", ClientID: id, Body: "body " + id})
	}
	send(t, conn, livechat.Frame{Type: "send", ClientID: "b", Body: "body b"}) // a resend
	replies, messages := readSplit(t, conn, 7)
	wantReplies := []summary{{Type: "ack", ClientID: "a", Seq: 1}, {Type: "ack", ClientID: "b", Seq: 2}, {Type: "ack", ClientID: "c", Seq: 3}, {Type: "ack", ClientID: "b", Seq: 2}}
	if diff := cmp.Diff(wantReplies, replies); diff != "" {
		t.Errorf("acks (-want +got):\n%s", diff)
	}
	wantMessages := []summary{{Type: "message", ClientID: "a", Body: "body a", Seq: 1}, {Type: "message", ClientID: "b", Body: "body b", Seq: 2}, {Type: "message", ClientID: "c", Body: "body c", Seq: 3}}
	if diff := cmp.Diff(wantMessages, messages); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

func TestInvalidSendsAreRefusedWithTheReason(t *testing.T) {
	r := newRig(t, rigOptions{})
	conn := r.dial("")
	send(t, conn, livechat.Frame{Type: "send", ClientID: "empty", Body: "  "})
	send(t, conn, livechat.Frame{Type: "send", ClientID: "note", Body: "psst", Internal: true})
	replies, messages := readSplit(t, conn, 3)
	want := []summary{{Type: "error", ClientID: "empty", Detail: "is required"}, {Type: "ack", ClientID: "note", Seq: 1}}
	if diff := cmp.Diff(want, replies); diff != "" {
		t.Errorf("replies (-want +got):\n%s (a visitor's 'internal' is ignored, not refused)", diff)
	}
	if diff := cmp.Diff([]summary{{Type: "message", ClientID: "note", Body: "psst", Seq: 1}}, messages); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

func TestResumeReplaysWhatWasMissedOnceAndNoNotes(t *testing.T) {
	r := newRig(t, rigOptions{})
	ctx := t.Context()
	for _, m := range []chat.Message{
		{Author: chat.Visitor, Body: "one", ClientID: "1"},
		{Author: chat.Agent, Body: "two", ClientID: "2"},
		{Author: chat.Agent, Body: "a note", ClientID: "3", Internal: true},
		{Author: chat.Agent, Body: "four", ClientID: "4"},
	} {
		m.ConversationID = r.conv.ID
		if _, err := r.chat.Post(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	conn := r.dial("")
	send(t, conn, livechat.Frame{Type: "resume", After: 1})
	got := []summary{sum(read(t, conn)), sum(read(t, conn))}
	// A message stored now arrives through the hub; a second resume, from 0, replays
	// nothing this connection has sent already.
	if _, err := r.chat.Post(ctx, chat.Message{ConversationID: r.conv.ID, Author: chat.Agent, Body: "five", ClientID: "5"}); err != nil {
		t.Fatal(err)
	}
	got = append(got, sum(read(t, conn)))
	send(t, conn, livechat.Frame{Type: "resume", After: 0})
	send(t, conn, livechat.Frame{Type: "send", ClientID: "6", Body: "six"})
	_, after := readSplit(t, conn, 2)
	got = append(got, after...)
	want := []summary{
		{Type: "message", ClientID: "2", Body: "two", Seq: 2},
		{Type: "message", ClientID: "4", Body: "four", Seq: 4},
		{Type: "message", ClientID: "5", Body: "five", Seq: 5},
		{Type: "message", ClientID: "6", Body: "six", Seq: 6},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
}

func TestSendsPastTheCapWaitForTheClock(t *testing.T) {
	r := newRig(t, rigOptions{})
	conn := r.dial("")
	for i := range 21 {
		send(t, conn, livechat.Frame{Type: "send", ClientID: string(rune('a' + i)), Body: "hi"})
	}
	replies, _ := readSplit(t, conn, 41)
	if got := replies[20]; got != (summary{Type: "error", ClientID: "u", Detail: "too many messages; slow down"}) {
		t.Errorf("the 21st send in 10 s: %+v", got)
	}
	for _, rep := range replies[:20] {
		if rep.Type != "ack" {
			t.Fatalf("one of the first 20: %+v", rep)
		}
	}
	r.clock.Advance(10 * time.Second)
	send(t, conn, livechat.Frame{Type: "send", ClientID: "later", Body: "hi"})
	if replies, _ = readSplit(t, conn, 2); replies[0].Type != "ack" {
		t.Errorf("after 10 s: %+v", replies[0])
	}
}

func TestReadOnlyRefusesEverySend(t *testing.T) {
	r := newRig(t, rigOptions{readOnly: true})
	conn := r.dial("")
	send(t, conn, livechat.Frame{Type: "send", ClientID: "x", Body: "hello"})
	if got := sum(read(t, conn)); got != (summary{Type: "error", ClientID: "x", Detail: "chat is unavailable: this instance is read-only"}) {
		t.Errorf("reply %+v", got)
	}
}

func TestAgentsNameTheConversationAndSeeTheOtherSideType(t *testing.T) {
	r := newRig(t, rigOptions{})
	agent := r.dial("?agent=1")
	visitor := r.dial("")
	send(t, agent, livechat.Frame{Type: "send", ConversationID: 999, ClientID: "x", Body: "hello"})
	if got := sum(read(t, agent)); got != (summary{Type: "error", ClientID: "x", Detail: "no such conversation"}) {
		t.Errorf("reply to a send to no conversation: %+v", got)
	}
	send(t, visitor, livechat.Frame{Type: "typing", On: true})
	if f := read(t, agent); f.Type != "typing" || f.Author != "visitor" || !f.On || f.ConversationID != r.conv.ID {
		t.Errorf("the agent saw %+v", f)
	}
	send(t, agent, livechat.Frame{Type: "typing", ConversationID: r.conv.ID, On: true})
	send(t, agent, livechat.Frame{Type: "send", ConversationID: r.conv.ID, ClientID: "n", Body: "a note", Internal: true})
	send(t, agent, livechat.Frame{Type: "send", ConversationID: r.conv.ID, ClientID: "a", Body: "hello"})
	// The visitor sees the agent type, then only the message that is not a note; the
	// agent's own typing does not come back to the agent.
	if f := read(t, visitor); f.Type != "typing" || f.Author != "agent" {
		t.Errorf("the visitor saw %+v first", f)
	}
	if f := read(t, visitor); f.Type != "message" || f.Body != "hello" || f.UserID != nil {
		t.Errorf("the visitor saw %+v", f)
	}
	replies, messages := readSplit(t, agent, 4)
	if diff := cmp.Diff([]summary{{Type: "ack", ClientID: "n", Seq: 1}, {Type: "ack", ClientID: "a", Seq: 2}}, replies); diff != "" {
		t.Errorf("agent's acks (-want +got):\n%s", diff)
	}
	if len(messages) != 2 || messages[0].Body != "a note" {
		t.Errorf("agent's messages %+v", messages)
	}
}

func TestPingKeepsALiveClientAndEndsADeadOne(t *testing.T) {
	t.Run("a client that reads answers and stays", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		conn := r.dial("")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		frames := make(chan livechat.Frame, 8)
		go func() { // reading is what answers pings
			for {
				var f livechat.Frame
				if wsjson.Read(ctx, conn, &f) != nil {
					close(frames)
					return
				}
				frames <- f
			}
		}()
		for range 3 {
			r.ticks <- time.Now() // taken: the writer pings and waits for the pong in turn
		}
		send(t, conn, livechat.Frame{Type: "send", ClientID: "x", Body: "still here"})
		if f := <-frames; f.Type != "ack" && f.Type != "message" {
			t.Errorf("after three pings: %+v", f)
		}
	})
	t.Run("a client that never answers is closed", func(t *testing.T) {
		r := newRig(t, rigOptions{writeTimeout: 50 * time.Millisecond})
		r.dial("") // and never read: no pong
		r.ticks <- time.Now()
		select {
		case <-r.served:
		case <-time.After(10 * time.Second):
			t.Fatal("the session did not end after an unanswered ping")
		}
	})
}

func TestANewerTabReplacesTheOldest(t *testing.T) {
	r := newRig(t, rigOptions{perChat: 1})
	old := r.dial("")
	newer := r.dial("")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := old.Read(ctx)
	if got := websocket.CloseStatus(err); got != livechat.CloseReplaced {
		t.Errorf("the older tab closed with %v (%v), want %d", got, err, livechat.CloseReplaced)
	}
	send(t, newer, livechat.Frame{Type: "send", ClientID: "x", Body: "here"})
	if replies, _ := readSplit(t, newer, 2); replies[0].Type != "ack" {
		t.Errorf("the newer tab: %+v", replies)
	}
}

func TestCounterBoundsOwnersAddressesAndTheTotal(t *testing.T) {
	c := livechat.NewCounter(2, 3, 4)
	admit := func(owner int64, addr string) (*livechat.Socket, error) {
		t.Helper()
		return c.Admit(owner, addr)
	}
	a1, _ := admit(1, "x")
	a2, _ := admit(1, "x")
	a3, err := admit(1, "x") // replaces a1: the address still holds two
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-a1.Replaced:
	default:
		t.Error("the oldest of owner 1 was not told it is replaced")
	}
	if _, err := admit(2, "x"); err != nil {
		t.Fatalf("third of the address: %v", err)
	}
	if _, err := admit(3, "x"); !errors.Is(err, livechat.ErrAddressFull) {
		t.Errorf("fourth of the address: %v, want ErrAddressFull", err)
	}
	if _, err := admit(3, "y"); err != nil {
		t.Fatalf("fourth in all: %v", err)
	}
	if _, err := admit(4, "z"); !errors.Is(err, livechat.ErrFull) {
		t.Errorf("fifth in all: %v, want ErrFull", err)
	}
	c.Release(a1) // replaced already: changes nothing
	c.Release(a2)
	if _, err := admit(4, "z"); err != nil {
		t.Errorf("after a release: %v", err)
	}
	c.Release(a3)
}

func TestShutdownAsksEveryClientToComeBack(t *testing.T) {
	r := newRig(t, rigOptions{})
	conn := r.dial("")
	send(t, conn, livechat.Frame{Type: "send", ClientID: "x", Body: "hi"})
	readSplit(t, conn, 2) // connected and served
	r.chat.Hub().Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := conn.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusServiceRestart {
		t.Errorf("closed with %v (%v), want %d", got, err, websocket.StatusServiceRestart)
	}
	select {
	case <-r.served:
	case <-ctx.Done():
		t.Fatal("the session did not end")
	}
}
