package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// TestChatDeliversEveryMessageOnceInOrder: 500 visitors send concurrently; the agent's
// subscriber receives each message exactly once, each conversation in sequence order,
// and every one is stored with gap-free sequence numbers.
func TestChatDeliversEveryMessageOnceInOrder(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		hub := chat.NewHub()
		svc := chat.NewService(store.NewChat(db), hub, chat.Options{})
		const visitors, each = 500, 4
		convs := make([]chat.Conversation, visitors)
		for i := range convs {
			c, _, err := svc.Start(ctx, fmt.Sprintf("Visitor %d", i), "", "https://shop.example")
			if err != nil {
				t.Fatal(err)
			}
			convs[i] = c
		}
		// Subscribed once the conversations exist: this agent reads messages only, and
		// 500 unread "new conversation" updates would rightly get it dropped.
		agent := hub.SubscribeAgent(1, visitors*each)
		var wg sync.WaitGroup
		errs := make(chan error, visitors)
		for _, c := range convs {
			wg.Add(1)
			go func(c chat.Conversation) {
				defer wg.Done()
				for k := 0; k < each; k++ {
					if _, err := svc.Send(ctx, c.ID, chat.Visitor, nil, fmt.Sprintf("message %d", k), fmt.Sprintf("c%d-%d", c.ID, k)); err != nil {
						errs <- err
						return
					}
				}
			}(c)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		seen := map[int64]int64{} // conversation → last seq received
		for i := 0; i < visitors*each; i++ {
			select {
			case m := <-agent.C:
				if m.Seq != seen[m.ConversationID]+1 {
					t.Fatalf("conversation %d: got seq %d after %d", m.ConversationID, m.Seq, seen[m.ConversationID])
				}
				seen[m.ConversationID] = m.Seq
			case <-time.After(10 * time.Second):
				t.Fatalf("only %d of %d messages delivered", i, visitors*each)
			}
		}
		select {
		case m := <-agent.C:
			t.Fatalf("an extra delivery: %+v", m)
		default:
		}
		for _, c := range convs {
			stored, err := svc.After(ctx, c.ID, 0)
			if err != nil || len(stored) != each || stored[each-1].Seq != each {
				t.Fatalf("conversation %d stored %d messages, %v", c.ID, len(stored), err)
			}
		}
	})
}

func TestChatResendResumeAndTokens(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		hub := chat.NewHub()
		svc := chat.NewService(store.NewChat(db), hub, chat.Options{})
		c, token, err := svc.Start(ctx, "Rita", "rita@example.org", "https://shop.example")
		if err != nil {
			t.Fatal(err)
		}
		var stored int64
		db.Gorm().Raw("SELECT COUNT(*) FROM chat_conversations WHERE visitor_token_hash = ?", token).Scan(&stored)
		if stored != 0 {
			t.Fatal("the visitor token is stored in clear")
		}
		got, err := svc.ByToken(ctx, token)
		if err != nil {
			t.Fatalf("by token: %v", err)
		}
		if got.ID != c.ID {
			t.Fatalf("by token: conversation %d, want %d", got.ID, c.ID)
		}
		if _, err := svc.ByToken(ctx, token+"x"); !errors.Is(err, instance.ErrNotFound) {
			t.Fatalf("another token: %v", err)
		}
		sub := hub.SubscribeConversation(c.ID, 10)
		first, err := svc.Send(ctx, c.ID, chat.Visitor, nil, "Hallo", "k1")
		if err != nil {
			t.Fatal(err)
		}
		again, err := svc.Send(ctx, c.ID, chat.Visitor, nil, "Hallo", "k1") // the ack was lost; the client resends
		if err != nil {
			t.Fatalf("resend: %v", err)
		}
		if diff := cmp.Diff(first, again, cmpopts.EquateApproxTime(time.Millisecond)); diff != "" {
			t.Fatalf("resend: want the first copy (-first +resend):\n%s", diff)
		}
		agentID := int64(7)
		reply, _ := svc.Send(ctx, c.ID, chat.Agent, &agentID, "Hallo Rita", "")
		if len(sub.C) != 2 {
			t.Fatalf("the subscriber got %d messages, want 2 (the resend is not published again)", len(sub.C))
		}
		missed, err := svc.After(ctx, c.ID, first.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int64{reply.ID}, messageIDs(missed)); diff != "" {
			t.Fatalf("resume after %d: message ids (-want +got):\n%s", first.Seq, diff)
		}
		conv, _ := store.NewChat(db).FindConversation(ctx, c.ID)
		type seen struct {
			FirstResponse bool
			LastSeq       int64
		}
		if diff := cmp.Diff(seen{FirstResponse: true, LastSeq: 2}, seen{conv.FirstResponseAt != nil, conv.LastSeq}); diff != "" {
			t.Fatalf("conversation (-want +got):\n%s", diff)
		}
		for _, bad := range []string{"", string(make([]byte, chat.MaxBody+1))} {
			if _, err := svc.Send(ctx, c.ID, chat.Visitor, nil, bad, ""); !errors.Is(err, instance.ErrInvalid) {
				t.Errorf("body of %d bytes: %v", len(bad), err)
			}
		}
	})
}

func TestHubDropsASlowSubscriber(t *testing.T) {
	hub := chat.NewHub()
	slow, fast := hub.SubscribeConversation(1, 1), hub.SubscribeConversation(1, 10)
	for seq := int64(1); seq <= 3; seq++ {
		hub.Publish(chat.Message{ConversationID: 1, Seq: seq})
	}
	select {
	case <-slow.Dropped:
	default:
		t.Fatal("the slow subscriber was not dropped")
	}
	if len(fast.C) != 3 {
		t.Fatalf("the fast subscriber got %d, want 3", len(fast.C))
	}
	hub.Unsubscribe(fast)
	hub.Publish(chat.Message{ConversationID: 1, Seq: 4})
	if len(fast.C) != 3 {
		t.Fatal("an unsubscribed subscriber still receives")
	}
}

// TestChatStatus: closing records when; a visitor's message opens the conversation
// again, an agent's does not; lists filter by status, newest activity first.
func TestChatStatus(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
		svc := chat.NewService(store.NewChat(db), chat.NewHub(), chat.Options{Clock: clk})
		a, _, _ := svc.Start(ctx, "A", "", "https://shop.example")
		clk.Advance(time.Minute)
		b, _, _ := svc.Start(ctx, "B", "", "https://shop.example")
		clk.Advance(time.Minute)
		closed, err := svc.Close(ctx, a.ID)
		if err != nil {
			t.Fatalf("close: %v", err)
		}
		now := clk.Now()
		type seen struct {
			Status   string
			ClosedAt *time.Time
		}
		if diff := cmp.Diff(seen{chat.Closed, &now}, seen{closed.Status, closed.ClosedAt}); diff != "" {
			t.Fatalf("close (-want +got):\n%s", diff)
		}
		list := func(status string) (ids []int64) {
			cs, err := svc.List(ctx, status, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				ids = append(ids, c.ID)
			}
			return ids
		}
		if got := fmt.Sprint(list(chat.Closed), list(chat.Open), list("")); got != fmt.Sprint([]int64{a.ID}, []int64{b.ID}, []int64{a.ID, b.ID}) {
			t.Errorf("lists %s", got)
		}
		if _, err := svc.Send(ctx, a.ID, chat.Agent, nil, "still closed", ""); err != nil {
			t.Fatal(err)
		}
		if c, _ := svc.Conversation(ctx, a.ID); c.Status != chat.Closed {
			t.Errorf("an agent's message opened it: %+v", c)
		}
		if _, err := svc.Send(ctx, a.ID, chat.Visitor, nil, "hello again", ""); err != nil {
			t.Fatal(err)
		}
		c, _ := svc.Conversation(ctx, a.ID)
		if diff := cmp.Diff(seen{Status: chat.Open}, seen{c.Status, c.ClosedAt}); diff != "" {
			t.Errorf("a visitor's message left it closed (-want +got):\n%s", diff)
		}
		if _, err := svc.Close(ctx, 424242); !errors.Is(err, instance.ErrNotFound) {
			t.Errorf("close a missing one: %v", err)
		}
	})
}

// TestChatInbox runs the inbox's SQL on both databases: notes kept from visitors,
// unread counts, read marks, agent settings, open-chat counts, canned responses and
// files counted once in the shared quota.
func TestChatInbox(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
		st := store.NewChat(db)
		svc := chat.NewService(st, chat.NewHub(), chat.Options{Clock: clk})
		c, _, err := svc.Start(ctx, "A", "", "")
		if err != nil {
			t.Fatal(err)
		}
		svc.Send(ctx, c.ID, chat.Visitor, nil, "one", "")
		svc.Note(ctx, c.ID, nil, "note", "")
		file := &chat.Attachment{Filename: "a.txt", ContentType: "text/plain", Size: 3, SHA256: strings.Repeat("ab", 32)}
		m, err := svc.Post(ctx, chat.Message{ConversationID: c.ID, Author: chat.Visitor, Body: "a.txt", ClientID: "f", Attachment: file})
		if err != nil {
			t.Fatalf("post a file: %v", err)
		}
		if m.Attachment == nil || m.Attachment.ID == 0 || m.Seq != 3 {
			t.Fatalf("post a file: seq %d, attachment %+v; want seq 3 with a stored attachment", m.Seq, m.Attachment)
		}
		// The same file again (a resend) is the stored message, not a second file.
		again, err := svc.Post(ctx, chat.Message{ConversationID: c.ID, Author: chat.Visitor, Body: "a.txt", ClientID: "f", Attachment: file})
		if err != nil {
			t.Fatalf("resend a file: %v", err)
		}
		if diff := cmp.Diff(m, again, cmpopts.EquateApproxTime(time.Millisecond)); diff != "" {
			t.Fatalf("resend a file: want the stored message (-stored +resend):\n%s", diff)
		}
		all, _ := svc.After(ctx, c.ID, 0)
		public, _ := svc.ForVisitor(ctx, c.ID, 0)
		type seen struct {
			All, Public int
			Filename    string // of the visitor's second message
		}
		got := seen{All: len(all), Public: len(public)}
		if len(public) == 2 && public[1].Attachment != nil {
			got.Filename = public[1].Attachment.Filename
		}
		if diff := cmp.Diff(seen{All: 3, Public: 2, Filename: "a.txt"}, got); diff != "" {
			t.Fatalf("messages (-want +got):\n%s\nall %+v\nthe visitor's %+v", diff, all, public)
		}
		if n, err := store.NewTickets(db).AttachmentBytes(ctx); err != nil || n != 3 {
			t.Fatalf("attachment bytes %d %v", n, err)
		}
		list, err := svc.List(ctx, chat.Open, 10)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		type unread struct {
			ID              int64
			ReadSeq, Unread int64
		}
		unreadOf := func(cs ...chat.Conversation) []unread {
			var out []unread
			for _, c := range cs {
				out = append(out, unread{c.ID, c.ReadSeq, c.Unread})
			}
			return out
		}
		if diff := cmp.Diff([]unread{{ID: c.ID, Unread: 2}}, unreadOf(list...)); diff != "" {
			t.Fatalf("list (-want +got):\n%s", diff)
		}
		read, err := svc.MarkRead(ctx, c.ID, 50)
		if err != nil {
			t.Fatalf("mark read: %v", err)
		}
		if diff := cmp.Diff([]unread{{ID: c.ID, ReadSeq: 3}}, unreadOf(read)); diff != "" {
			t.Fatalf("mark read (-want +got):\n%s", diff)
		}
		if _, err := svc.MarkRead(ctx, 999, 1); !errors.Is(err, instance.ErrNotFound) {
			t.Fatalf("mark a missing conversation read: %v", err)
		}
		users := []int64{mkUser(t, db, "a@example.org"), mkUser(t, db, "b@example.org")}
		if _, err := svc.SetPresence(ctx, users[0], chat.Away, 3); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SetPresence(ctx, users[0], "", 4); err != nil {
			t.Fatal(err)
		}
		agents, err := svc.Agents(ctx, users)
		if err != nil {
			t.Fatalf("agents: %v", err)
		}
		wantAgents := []chat.AgentState{
			{AgentSettings: chat.AgentSettings{UserID: users[0], Status: chat.Away, MaxChats: 4}, Presence: chat.Offline},
			{AgentSettings: chat.AgentSettings{UserID: users[1], Status: chat.Online, MaxChats: chat.DefaultMaxChats}, Presence: chat.Offline},
		}
		if diff := cmp.Diff(wantAgents, agents); diff != "" {
			t.Fatalf("agents (-want +got):\n%s", diff)
		}
		if _, err := svc.Assign(ctx, c.ID, &users[1], "given"); err != nil {
			t.Fatal(err)
		}
		if open, err := st.OpenChats(ctx, users); err != nil || open[users[1]] != 1 || open[users[0]] != 0 {
			t.Fatalf("open chats %v %v", open, err)
		}
		clk.Advance(time.Hour)
		waiting, err := svc.TakeUnanswered(ctx, clk.Now())
		if err != nil {
			t.Fatalf("unanswered: %v", err)
		}
		if diff := cmp.Diff([]int64{c.ID}, conversationIDs(waiting)); diff != "" {
			t.Fatalf("unanswered conversations (-want +got):\n%s", diff)
		}
		if waiting, err := svc.TakeUnanswered(ctx, clk.Now()); err != nil || len(waiting) != 0 {
			t.Fatalf("unanswered twice: %d conversations %v, want none", len(waiting), err)
		}
		if _, err := svc.CreateCanned(ctx, "hi", "Hello!"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateCanned(ctx, "HI", "Again"); !errors.Is(err, instance.ErrConflict) {
			t.Fatalf("a shortcut twice: %v", err)
		}
	})
}

// TestChatGroupCommitIsolatesABadMessage: messages sent together are committed
// together; one the database refuses fails alone, and the others are stored with
// gap-free sequence numbers.
func TestChatGroupCommitIsolatesABadMessage(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st := store.NewChat(db)
		svc := chat.NewService(st, chat.NewHub(), chat.Options{})
		c, _, err := svc.Start(ctx, "A", "", "")
		if err != nil {
			t.Fatal(err)
		}
		const n = 60
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				author := chat.Visitor
				if i == n/2 {
					author = "robot" // refused by the table's CHECK constraint
				}
				m := chat.Message{ConversationID: c.ID, Author: author, Body: fmt.Sprintf("m%d", i), CreatedAt: time.Now()}
				_, errs[i] = st.Append(ctx, &m)
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if (i == n/2) != (err != nil) {
				t.Fatalf("message %d: %v", i, err)
			}
		}
		msgs, err := svc.After(ctx, c.ID, 0)
		if err != nil || len(msgs) != n-1 {
			t.Fatalf("%d stored, want %d: %v", len(msgs), n-1, err)
		}
		for i, m := range msgs {
			if m.Seq != int64(i+1) {
				t.Fatalf("message %d has seq %d", i, m.Seq)
			}
		}
	})
}

// mkUser adds an agent straight to the users table and returns its id.
func mkUser(t *testing.T, db *store.DB, email string) int64 {
	t.Helper()
	now := time.Now().UTC()
	if err := db.Gorm().Exec("INSERT INTO users (email, name, role, active, password_hash, created_at, updated_at) VALUES (?, ?, 'agent', ?, '', ?, ?)",
		email, email, true, now, now).Error; err != nil {
		t.Fatal(err)
	}
	var id int64
	db.Gorm().Raw("SELECT id FROM users WHERE email = ?", email).Scan(&id)
	return id
}

func messageIDs(ms []chat.Message) []int64 {
	var out []int64
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func conversationIDs(cs []chat.Conversation) []int64 {
	var out []int64
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}
