package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/ratelimit"
)

// frame is one WebSocket message, both ways.
type frame struct {
	Type           string    `json:"type"` // resume, send, message, ack, error, typing
	ConversationID int64     `json:"conversation_id,omitempty"`
	After          int64     `json:"after,omitempty"`
	ClientID       string    `json:"client_id,omitempty"`
	Body           string    `json:"body,omitempty"`
	Seq            int64     `json:"seq,omitempty"`
	Author         string    `json:"author,omitempty"`
	At             time.Time `json:"at,omitzero"`
	Detail         string    `json:"detail,omitempty"`
	On             bool      `json:"on,omitempty"` // typing: started (true) or stopped
	// Internal marks a note among the team: agents send one with it, and only agents
	// ever receive one.
	Internal     bool              `json:"internal,omitempty"`
	Attachment   *attachmentFrame  `json:"attachment,omitempty"`
	Conversation *conversationJSON `json:"conversation,omitempty"` // type "conversation": a line of the inbox changed
	New          bool              `json:"new,omitempty"`          // …because the conversation has just started
	UserID       *int64            `json:"user_id,omitempty"`      // the agent who wrote it; only agents are told
}

// attachmentFrame is a file in a message. Agents download it at URL; a visitor posts
// their token to the same URL (no token in any address).
type attachmentFrame struct {
	ID          int64  `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
}

func messageFrame(m chat.Message) frame {
	f := frame{Type: "message", ConversationID: m.ConversationID, Seq: m.Seq, Author: string(m.Author), Body: m.Body, ClientID: m.ClientID,
		At: m.CreatedAt, Internal: m.Internal, UserID: m.AuthorUserID}
	if a := m.Attachment; a != nil {
		f.Attachment = &attachmentFrame{ID: a.ID, Filename: a.Filename, ContentType: a.ContentType, Size: a.Size, URL: fmt.Sprintf("/api/v1/chat/attachments/%d", a.ID)}
	}
	return f
}

// widget serves the chat widget for <script src="https://<instance>/widget.js" async>.
// It is cached briefly, so a new release reaches every website within minutes.
func (s *Server) widget(c echo.Context) error {
	b, err := widgetJS()
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", b)
}

// chatOrigins are the websites allowed to embed the widget.
func (s *Server) chatOrigins(ctx context.Context) []string {
	if s.opts.Chat == nil {
		return nil
	}
	o, err := s.opts.Chat.Origins(ctx, s.opts.Settings)
	if err != nil {
		s.log.ErrorContext(ctx, "read chat origins", "error", err.Error())
		return nil
	}
	return o
}

// allowCrossOrigin lets a request from another site through when its origin is
// allowed, and says so in the CORS headers. Same-origin requests need no permission.
func (s *Server) allowCrossOrigin(c echo.Context) error {
	origin := c.Request().Header.Get("Origin")
	if origin == "" {
		return nil
	}
	if u, err := url.Parse(origin); err == nil && (u.Host == c.Request().Host || u.Host == s.opts.BaseURL.Host) {
		return nil
	}
	if !contains(s.chatOrigins(c.Request().Context()), strings.ToLower(origin)) {
		return errCrossSite
	}
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	return nil
}

func (s *Server) chatPreflight(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Methods", "POST")
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	return c.NoContent(http.StatusNoContent)
}

// chatSettings is the admin's view of the chat: allowed websites and the widget.
type chatSettings struct {
	Origins []string `json:"origins"`
	chat.Widget
}

func (s *Server) readChatSettings(ctx context.Context) (chatSettings, error) {
	w, err := s.opts.Chat.WidgetSettings(ctx, s.opts.Settings)
	if err != nil {
		return chatSettings{}, err
	}
	o, err := s.opts.Chat.Origins(ctx, s.opts.Settings)
	return chatSettings{Origins: o, Widget: w}, err
}

func (s *Server) apiChatSettings(c echo.Context) error {
	cs, err := s.readChatSettings(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cs)
}

// chatSettingsInput is a change to the chat settings: nil fields stay as they are.
type chatSettingsInput struct {
	Origins     *[]string `json:"origins"`
	Colour      *string   `json:"colour"`
	Greeting    *string   `json:"greeting"`
	OfflineText *string   `json:"offline_text"`
}

// saveChatSettings changes the fields in names. Everything is checked before anything
// is stored. Returns a *accounts.ValidationError.
func (s *Server) saveChatSettings(ctx context.Context, in chatSettingsInput) (chatSettings, error) {
	cs, err := s.readChatSettings(ctx)
	if err != nil {
		return chatSettings{}, err
	}
	w := cs.Widget
	for _, f := range []struct{ to, from *string }{{&w.Colour, in.Colour}, {&w.Greeting, in.Greeting}, {&w.OfflineText, in.OfflineText}} {
		if f.from != nil {
			*f.to = strings.TrimSpace(*f.from)
		}
	}
	if err := w.Validate(); err != nil {
		return chatSettings{}, err
	}
	if in.Origins != nil {
		if cs.Origins, err = s.opts.Chat.SetOrigins(ctx, s.opts.Settings, *in.Origins); err != nil {
			return chatSettings{}, err
		}
	}
	if w != cs.Widget {
		if err := s.opts.Chat.SetWidgetSettings(ctx, s.opts.Settings, w); err != nil {
			return chatSettings{}, err
		}
	}
	cs.Widget = w
	return cs, nil
}

// apiSetChatSettings changes the fields the request names.
func (s *Server) apiSetChatSettings(c echo.Context) error {
	var in chatSettingsInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	cs, err := s.saveChatSettings(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cs)
}

// apiChatConfig tells the widget how to look and whether anyone can answer: with no
// agent online it offers the leave-a-message form, in read-only mode nothing to send.
func (s *Server) apiChatConfig(c echo.Context) error {
	ctx := c.Request().Context()
	w, err := s.opts.Chat.WidgetSettings(ctx, s.opts.Settings)
	if err != nil {
		return err
	}
	online, err := s.opts.Chat.Online(ctx)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]any{"colour": w.Colour, "greeting": w.Greeting, "offline_text": w.OfflineText,
		"online": online, "read_only": s.opts.ReadOnly, "max_file": s.maxChatFile()})
}

// How many chats one address may start, and in what time.
const (
	chatStartsPerWindow = 5
	chatStartWindow     = 10 * time.Minute
)

// apiStartChat opens a conversation for a visitor and hands them its token. Each
// address may start chatStartsPerWindow chats per chatStartWindow; past that the answer
// is 429 with Retry-After and a detail in the visitor's language, which the widget shows.
func (s *Server) apiStartChat(c echo.Context) error {
	var in struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	slot, wait := s.chatStartLimit.Reserve(addressKey(c))
	if wait > 0 {
		c.Response().Header().Set("Retry-After", itoa(int((wait+time.Second-1)/time.Second)))
		minutes := int((wait + time.Minute - 1) / time.Minute)
		return &requestError{http.StatusTooManyRequests, "throttled", plural(lang(c.Request(), nil), "chat.slow_down", minutes)}
	}
	conv, token, err := s.opts.Chat.Start(c.Request().Context(), in.Name, in.Email, c.Request().Header.Get("Origin"))
	if _, invalid := fieldErrors(err); invalid {
		slot.Cancel() // nothing was started: a typo costs the visitor no chat
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, map[string]any{"conversation_id": conv.ID, "token": token})
}

// chatVisitorWS is a visitor's live connection, authenticated by their token: they see
// only their own conversation. Before the upgrade the connection is counted (see
// sockets): past the address's or the instance's limit the answer is 429 or 503.
func (s *Server) chatVisitorWS(c echo.Context) error {
	ctx := c.Request().Context()
	conv, err := s.opts.Chat.ByToken(ctx, c.QueryParam("token"))
	if err != nil {
		return err
	}
	var replaced <-chan struct{}
	if c.IsWebSocket() { // a plain request only learns it needs one (426 from Accept)
		sk, err := s.visitorSockets.admit(conv.ID, addressKey(c))
		if err != nil {
			c.Response().Header().Set("Retry-After", itoa(socketRetryAfter))
			return err
		}
		defer s.visitorSockets.release(sk)
		replaced = sk.replaced
	}
	var hosts []string
	for _, o := range s.chatOrigins(ctx) {
		if u, err := url.Parse(o); err == nil {
			hosts = append(hosts, u.Host)
		}
	}
	conn, err := websocket.Accept(c.Response(), c.Request(), &websocket.AcceptOptions{OriginPatterns: hosts})
	if err != nil {
		return nil // Accept has answered (403 for a foreign origin, 426 without an upgrade)
	}
	// A visitor rarely has more than a few messages in flight, and a full buffer only
	// means reconnect-and-resume: a small buffer keeps idle connections cheap.
	sub := s.opts.Chat.Hub().SubscribeConversation(conv.ID, 32)
	defer s.opts.Chat.Hub().Unsubscribe(sub)
	s.serveChat(ctx, conn, sub, chatPeer{author: chat.Visitor, conversation: conv.ID, replaced: replaced})
	return nil
}

// chatAgentWS is an agent's live inbox: every conversation's messages. An agent's
// newest agentSocketsPerUser connections stay open.
func (s *Server) chatAgentWS(c echo.Context) error {
	id := mustPrincipal(c).User.ID
	var replaced <-chan struct{}
	if c.IsWebSocket() {
		sk, err := s.agentSockets.admit(id, "")
		if err != nil {
			return err
		}
		defer s.agentSockets.release(sk)
		replaced = sk.replaced
	}
	// Subscribed before the upgrade completes: once the agent's client is connected,
	// they count as online and miss nothing.
	sub := s.opts.Chat.Hub().SubscribeAgent(id, 1024)
	defer s.opts.Chat.Hub().Unsubscribe(sub)
	conn, err := websocket.Accept(c.Response(), c.Request(), nil) // same origin only
	if err != nil {
		return nil
	}
	s.serveChat(c.Request().Context(), conn, sub, chatPeer{author: chat.Agent, userID: &id, replaced: replaced})
	return nil
}

// chatPeer is who is on the other end of a connection.
type chatPeer struct {
	author       chat.Author
	userID       *int64
	conversation int64 // a visitor's own; 0 for agents, who name it per frame
	// replaced is closed when a newer connection of the same chat or agent took this
	// one's place (see sockets); nil never is.
	replaced <-chan struct{}
}

// serveChat runs one connection: frames in, stored and acknowledged; messages out,
// each once and in order. All writes happen in one goroutine, which also replays what
// a resuming client missed, tracking the last sequence sent per conversation.
func (s *Server) serveChat(ctx context.Context, conn *websocket.Conn, sub *chat.Subscriber, peer chatPeer) {
	var writer sync.WaitGroup
	defer writer.Wait() // last: the connection's goroutines end with its handler
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer conn.CloseNow()
	conn.SetReadLimit(16 << 10)
	out := make(chan frame, 64)
	resume := make(chan frame, 8)
	writer.Go(func() { s.chatWriter(ctx, cancel, conn, sub, peer, out, resume) })
	limit := ratelimit.New(s.opts.Clock, 10*time.Second, 20) // per connection
	typingLimit := ratelimit.New(s.opts.Clock, 10*time.Second, 20)
	for {
		var in frame
		if err := wsjson.Read(ctx, conn, &in); err != nil {
			return
		}
		conv := peer.conversation
		if peer.author == chat.Agent {
			conv = in.ConversationID
		}
		switch in.Type {
		case "typing":
			if s.opts.ReadOnly || conv == 0 || typingLimit.Take("t") > 0 {
				continue // ephemeral: an extra one is simply not passed on
			}
			if peer.author == chat.Agent {
				if _, err := s.opts.Chat.Conversation(ctx, conv); err != nil {
					continue
				}
			}
			s.opts.Chat.Hub().PublishTyping(chat.Typing{ConversationID: conv, Author: peer.author, On: in.On})
		case "resume":
			in.ConversationID = conv
			select {
			case resume <- in:
			case <-ctx.Done():
				return
			}
		case "send":
			reply := frame{Type: "ack", ClientID: in.ClientID, ConversationID: conv}
			switch {
			case s.opts.ReadOnly:
				reply = frame{Type: "error", ClientID: in.ClientID, Detail: "chat is unavailable: this instance is read-only"}
			case limit.Take("c") > 0:
				reply = frame{Type: "error", ClientID: in.ClientID, Detail: translate(ctxLang(ctx), "chat.too_fast")}
			default:
				if peer.author == chat.Agent {
					if _, err := s.opts.Chat.Conversation(ctx, conv); err != nil {
						reply = frame{Type: "error", ClientID: in.ClientID, Detail: translate(ctxLang(ctx), "chat.no_conversation")}
						break
					}
				}
				m, err := s.opts.Chat.Post(ctx, chat.Message{ConversationID: conv, Author: peer.author, AuthorUserID: peer.userID,
					Body: in.Body, ClientID: in.ClientID, Internal: in.Internal && peer.author == chat.Agent})
				if err != nil {
					var detail string
					if fields, ok := fieldErrors(err); ok {
						detail = fieldText(ctxLang(ctx), fields["body"]+fields["client_id"])
					}
					if detail == "" {
						detail = translate(ctxLang(ctx), "chat.not_stored")
						s.log.ErrorContext(ctx, "chat send", "error", err.Error())
					}
					reply = frame{Type: "error", ClientID: in.ClientID, Detail: detail}
					break
				}
				reply.Seq = m.Seq
			}
			select {
			case out <- reply:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (s *Server) chatWriter(ctx context.Context, cancel context.CancelFunc, conn *websocket.Conn, sub *chat.Subscriber, peer chatPeer, out, resume <-chan frame) {
	defer cancel()
	sent := map[int64]int64{} // conversation → last seq written
	write := func(f frame) bool {
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		return wsjson.Write(wctx, conn, f) == nil
	}
	deliver := func(m chat.Message) bool {
		if m.Seq <= sent[m.ConversationID] {
			return true // replayed already
		}
		sent[m.ConversationID] = m.Seq
		f := messageFrame(m)
		if peer.author == chat.Visitor {
			f.UserID = nil // which colleague answered is the team's business
		}
		return write(f)
	}
	ping := time.NewTicker(20 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Dropped:
			conn.Close(websocket.StatusTryAgainLater, "too slow: reconnect and resume")
			return
		case <-peer.replaced:
			conn.Close(closeReplaced, "replaced by a newer connection to this chat")
			return
		case <-sub.Closing:
			conn.Close(websocket.StatusServiceRestart, "the server is restarting: reconnect and resume")
			return
		case m := <-sub.C:
			if !deliver(m) {
				return
			}
		case u := <-sub.Updates:
			cj := toConversationJSON(u.Conversation)
			if !write(frame{Type: "conversation", ConversationID: cj.ID, Conversation: &cj, New: u.New}) {
				return
			}
		case t := <-sub.Typing:
			if t.Author == peer.author {
				continue // one's own side typing is no news
			}
			if !write(frame{Type: "typing", ConversationID: t.ConversationID, Author: string(t.Author), On: t.On}) {
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
			after := s.opts.Chat.After
			if peer.author == chat.Visitor {
				after = s.opts.Chat.ForVisitor
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
		case <-ping.C:
			pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil {
				return
			}
		}
	}
}
