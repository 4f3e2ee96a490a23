package livechat

import (
	"context"
	"log/slog"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/ratelimit"
	"github.com/sproudstack/sproudchat/platform/clock"
)

// Chat is what a connection needs of the chat service.
type Chat interface {
	// Conversation returns instance.ErrNotFound for an unknown id.
	Conversation(ctx context.Context, id int64) (chat.Conversation, error)
	Post(ctx context.Context, m chat.Message) (chat.Message, error)
	// After and ForVisitor list a conversation's messages after seq: all of them for
	// agents, without the team's notes for the visitor.
	After(ctx context.Context, conv, seq int64) ([]chat.Message, error)
	ForVisitor(ctx context.Context, conv, seq int64) ([]chat.Message, error)
}

// Typing passes "typing" on to the other side (the chat's hub).
type Typing interface {
	PublishTyping(t chat.Typing)
}

// Options configure the sessions.
type Options struct {
	Chat   Chat
	Typing Typing
	Clock  clock.Clock // for the per-connection limits; default clock.Real
	Logger *slog.Logger
	// ReadOnly refuses every send and passes no typing on.
	ReadOnly bool
	// PingEvery is how often the server pings; default 20 s.
	PingEvery time.Duration
	// WriteTimeout bounds each write and the wait for each pong; default 10 s.
	WriteTimeout time.Duration
	// Text says why a send was refused, in the language ctx carries: key is
	// chat.too_fast, chat.no_conversation or chat.not_stored. FieldText shows a field
	// error of the chat (English, "is required") in that language. Nil: English.
	Text      func(ctx context.Context, key string) string
	FieldText func(ctx context.Context, english string) string
	// Ticker makes the ping ticker; default time.NewTicker. Tests pass one they tick.
	Ticker func(d time.Duration) (ticks <-chan time.Time, stop func())
}

// Per connection, a client may send this many messages, and as many typing frames, per
// limitWindow.
const (
	sendsPerWindow = 20
	limitWindow    = 10 * time.Second
	// readLimit is the largest frame a client may send.
	readLimit = 16 << 10
)

// english is what Options.Text says by default.
var english = map[string]string{
	"chat.too_fast":        "too many messages; slow down",
	"chat.no_conversation": "no such conversation",
	"chat.not_stored":      "the message could not be stored",
}

// Sessions serves live chat connections.
type Sessions struct{ o Options }

// New returns Sessions with o's defaults filled in.
func New(o Options) *Sessions {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PingEvery == 0 {
		o.PingEvery = 20 * time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.Text == nil {
		o.Text = func(_ context.Context, key string) string { return english[key] }
	}
	if o.FieldText == nil {
		o.FieldText = func(_ context.Context, s string) string { return s }
	}
	if o.Ticker == nil {
		o.Ticker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	return &Sessions{o: o}
}

// Peer is who is on the other end of a connection.
type Peer struct {
	Author chat.Author
	UserID *int64 // the agent
	// Conversation is a visitor's own; 0 for agents, who name it per frame.
	Conversation int64
	// Replaced is closed when a newer connection of the same chat or agent took this
	// one's place (see Counter); nil never is.
	Replaced <-chan struct{}
}

// Serve runs one connection until the client leaves, the connection fails or ctx ends:
// frames in, stored and acknowledged; messages from sub out, each once and in order.
// All writes happen in one goroutine, which also replays what a resuming client
// missed, tracking the last sequence sent per conversation. Serve returns only when
// both of its goroutines have.
func (s *Sessions) Serve(ctx context.Context, conn *websocket.Conn, sub *chat.Subscriber, peer Peer) {
	ctx, cancel := context.WithCancel(ctx)
	conn.SetReadLimit(readLimit)
	out := make(chan Frame, 64)
	resume := make(chan Frame, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.write(ctx, cancel, conn, sub, peer, out, resume)
	}()
	s.read(ctx, conn, peer, out, resume)
	cancel()
	conn.CloseNow() // ends a write in progress
	<-done
}

func (s *Sessions) read(ctx context.Context, conn *websocket.Conn, peer Peer, out, resume chan<- Frame) {
	limit := ratelimit.New(s.o.Clock, limitWindow, sendsPerWindow)
	typingLimit := ratelimit.New(s.o.Clock, limitWindow, sendsPerWindow)
	for {
		var in Frame
		if err := wsjson.Read(ctx, conn, &in); err != nil {
			return
		}
		conv := peer.Conversation
		if peer.Author == chat.Agent {
			conv = in.ConversationID
		}
		switch in.Type {
		case "typing":
			if s.o.ReadOnly || conv == 0 || typingLimit.Take("t") > 0 {
				continue // ephemeral: an extra one is simply not passed on
			}
			if peer.Author == chat.Agent {
				if _, err := s.o.Chat.Conversation(ctx, conv); err != nil {
					continue
				}
			}
			s.o.Typing.PublishTyping(chat.Typing{ConversationID: conv, Author: peer.Author, On: in.On})
		case "resume":
			in.ConversationID = conv
			select {
			case resume <- in:
			case <-ctx.Done():
				return
			}
		case "send":
			select {
			case out <- s.send(ctx, limit, peer, conv, in):
			case <-ctx.Done():
				return
			}
		}
	}
}

// send stores a message and says how it went: an ack with its seq, or an error.
func (s *Sessions) send(ctx context.Context, limit *ratelimit.Limiter, peer Peer, conv int64, in Frame) Frame {
	refuse := func(detail string) Frame { return Frame{Type: "error", ClientID: in.ClientID, Detail: detail} }
	switch {
	case s.o.ReadOnly:
		return refuse("chat is unavailable: this instance is read-only")
	case limit.Take("c") > 0:
		return refuse(s.o.Text(ctx, "chat.too_fast"))
	}
	if peer.Author == chat.Agent {
		if _, err := s.o.Chat.Conversation(ctx, conv); err != nil {
			return refuse(s.o.Text(ctx, "chat.no_conversation"))
		}
	}
	m, err := s.o.Chat.Post(ctx, chat.Message{ConversationID: conv, Author: peer.Author, AuthorUserID: peer.UserID,
		Body: in.Body, ClientID: in.ClientID, Internal: in.Internal && peer.Author == chat.Agent})
	if err != nil {
		var detail string
		if fields, ok := instance.FieldErrors(err); ok {
			msgs := fields.Messages(nil)
			detail = s.o.FieldText(ctx, msgs["body"]+msgs["client_id"])
		}
		if detail == "" {
			detail = s.o.Text(ctx, "chat.not_stored")
			s.o.Logger.ErrorContext(ctx, "chat send", "error", err.Error())
		}
		return refuse(detail)
	}
	return Frame{Type: "ack", ClientID: in.ClientID, ConversationID: conv, Seq: m.Seq}
}

func (s *Sessions) write(ctx context.Context, cancel context.CancelFunc, conn *websocket.Conn, sub *chat.Subscriber, peer Peer, out, resume <-chan Frame) {
	defer cancel()
	sent := map[int64]int64{} // conversation → last seq written
	write := func(f Frame) bool {
		wctx, wcancel := context.WithTimeout(ctx, s.o.WriteTimeout)
		defer wcancel()
		return wsjson.Write(wctx, conn, f) == nil
	}
	deliver := func(m chat.Message) bool {
		if m.Seq <= sent[m.ConversationID] {
			return true // replayed already
		}
		sent[m.ConversationID] = m.Seq
		f := MessageFrame(m)
		if peer.Author == chat.Visitor {
			f.UserID = nil // which colleague answered is the team's business
		}
		return write(f)
	}
	ping, stop := s.o.Ticker(s.o.PingEvery)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Dropped:
			conn.Close(websocket.StatusTryAgainLater, "too slow: reconnect and resume")
			return
		case <-peer.Replaced:
			conn.Close(CloseReplaced, "replaced by a newer connection to this chat")
			return
		case <-sub.Closing:
			conn.Close(websocket.StatusServiceRestart, "the server is restarting: reconnect and resume")
			return
		case m := <-sub.C:
			if !deliver(m) {
				return
			}
		case u := <-sub.Updates:
			cj := ToConversation(u.Conversation)
			if !write(Frame{Type: "conversation", ConversationID: cj.ID, Conversation: &cj, New: u.New}) {
				return
			}
		case t := <-sub.Typing:
			if t.Author == peer.Author {
				continue // one's own side typing is no news
			}
			if !write(Frame{Type: "typing", ConversationID: t.ConversationID, Author: string(t.Author), On: t.On}) {
				return
			}
		case f := <-out:
			if !write(f) {
				return
			}
		case r := <-resume:
			if r.ConversationID == 0 {
				continue
			}
			if sent[r.ConversationID] < r.After {
				sent[r.ConversationID] = r.After
			}
			after := s.o.Chat.After
			if peer.Author == chat.Visitor {
				after = s.o.Chat.ForVisitor
			}
			missed, err := after(ctx, r.ConversationID, sent[r.ConversationID])
			if err != nil {
				return
			}
			for _, m := range missed {
				if !deliver(m) {
					return
				}
			}
		case <-ping:
			pctx, pcancel := context.WithTimeout(ctx, s.o.WriteTimeout)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil {
				return
			}
		}
	}
}
