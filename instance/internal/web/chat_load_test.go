package web

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

// TestFiveHundredVisitorsOverWebSockets: 500 visitors, each on their own WebSocket from
// their own address, send
// concurrently; the agent's inbox receives every message exactly once and each
// conversation in order, and every one is stored.
func TestFiveHundredVisitorsOverWebSockets(t *testing.T) {
	if testing.Short() {
		t.Skip("500 connections")
	}
	const visitors, each = 500, 3
	h := newHarness(t, harnessOptions{}, true)
	agentClient := h.loggedIn(accounts.RoleAgent)
	hdr := http.Header{"Origin": {h.http.URL}}
	for _, ck := range agentClient.http.Jar.Cookies(mustURL(h.http.URL)) {
		hdr.Add("Cookie", ck.Name+"="+ck.Value)
	}
	aws := dialWS(t, wsURL(h, "/api/v1/chat/inbox"), hdr)
	aws.SetReadLimit(1 << 20)

	var before int64 // the harness's own conversations have messages too
	h.db.Gorm().Table("chat_messages").Count(&before)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tokens := make([]string, visitors)
	for i := range tokens {
		_, tok, err := h.server.opts.Chat.Start(ctx, fmt.Sprintf("Visitor %d", i), "", "")
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = tok
	}
	received := make(chan frame, visitors*each)
	go func() {
		for {
			var f frame
			if err := wsjson.Read(ctx, aws, &f); err != nil {
				return
			}
			if f.Type == "message" {
				received <- f
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, visitors)
	for i, tok := range tokens {
		wg.Add(1)
		go func(i int, tok string) {
			defer wg.Done()
			// Each from an address of its own, as the edge router reports it: one
			// address holds only livechat.VisitorsPerAddress connections.
			ip := fmt.Sprintf("10.7.%d.%d", i>>8, i&255)
			conn, _, err := websocket.Dial(ctx, wsURL(h, "/api/v1/chat/ws?token="+tok), &websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {ip}}})
			if err != nil {
				errs <- err
				return
			}
			defer conn.CloseNow()
			for k := 0; k < each; k++ {
				if err := wsjson.Write(ctx, conn, frame{Type: "send", ClientID: fmt.Sprintf("%d-%d", i, k), Body: fmt.Sprintf("message %d", k)}); err != nil {
					errs <- err
					return
				}
				for { // wait for this message's ack before the next, as the widget does
					var f frame
					if err := wsjson.Read(ctx, conn, &f); err != nil {
						errs <- err
						return
					}
					if f.Type == "ack" {
						break
					}
					if f.Type == "error" {
						errs <- fmt.Errorf("visitor %d: %s", i, f.Detail)
						return
					}
				}
			}
		}(i, tok)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	last := map[int64]int64{}
	for n := 0; n < visitors*each; n++ {
		select {
		case f := <-received:
			if f.Seq != last[f.ConversationID]+1 {
				t.Fatalf("conversation %d: seq %d after %d", f.ConversationID, f.Seq, last[f.ConversationID])
			}
			last[f.ConversationID] = f.Seq
		case <-ctx.Done():
			t.Fatalf("the agent received %d of %d messages", n, visitors*each)
		}
	}
	select {
	case f := <-received:
		t.Fatalf("an extra delivery: %+v", f)
	case <-time.After(200 * time.Millisecond):
	}
	var stored int64
	h.db.Gorm().Table("chat_messages").Count(&stored)
	if stored-before != visitors*each {
		t.Fatalf("%d messages stored, want %d", stored-before, visitors*each)
	}
}
