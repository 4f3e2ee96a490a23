package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/web/livechat"
)

// frame is one WebSocket message of the live chat (see livechat).
type frame = livechat.Frame

var messageFrame = livechat.MessageFrame

// widget serves the chat widget for <script src="https://<instance>/widget.js" async>.
// It is cached briefly, so a new release reaches every website within minutes.
func (s *Server) widget(c echo.Context) error {
	b, err := staticFiles.ReadFile("static/widget.js")
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
// is stored. Returns an Invalid *instance.Error.
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
		return &requestError{http.StatusTooManyRequests, "throttled", translate(lang(c.Request(), nil), "chat.slow_down", minutes)}
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

// Refused chat connections: livechat's refusals as the API answers them.
var (
	errAddressSockets = &requestError{http.StatusTooManyRequests, "too-many-connections", livechat.ErrAddressFull.Error()}
	errSocketsFull    = &requestError{http.StatusServiceUnavailable, "busy", livechat.ErrFull.Error()}
)

// admitSocket counts a live connection of owner from addr, or answers why not.
func admitSocket(c echo.Context, counter *livechat.Counter, owner int64, addr string) (*livechat.Socket, error) {
	sk, err := counter.Admit(owner, addr)
	switch {
	case errors.Is(err, livechat.ErrAddressFull):
		err = errAddressSockets
	case errors.Is(err, livechat.ErrFull):
		err = errSocketsFull
	}
	if err != nil {
		c.Response().Header().Set("Retry-After", itoa(livechat.RetryAfter))
	}
	return sk, err
}

// chatVisitorWS is a visitor's live connection, authenticated by their token: they see
// only their own conversation. Before the upgrade the connection is counted (see
// livechat.Counter): past the address's or the instance's limit the answer is 429 or 503.
func (s *Server) chatVisitorWS(c echo.Context) error {
	ctx := c.Request().Context()
	conv, err := s.opts.Chat.ByToken(ctx, c.QueryParam("token"))
	if err != nil {
		return err
	}
	var replaced <-chan struct{}
	if c.IsWebSocket() { // a plain request only learns it needs one (426 from Accept)
		sk, err := admitSocket(c, s.visitorSockets, conv.ID, addressKey(c))
		if err != nil {
			return err
		}
		defer s.visitorSockets.Release(sk)
		replaced = sk.Replaced
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
	s.sessions.Serve(ctx, conn, sub, livechat.Peer{Author: chat.Visitor, Conversation: conv.ID, Replaced: replaced})
	return nil
}

// chatAgentWS is an agent's live inbox: every conversation's messages. An agent's
// newest livechat.AgentTabs connections stay open.
func (s *Server) chatAgentWS(c echo.Context) error {
	id := mustPrincipal(c).User.ID
	var replaced <-chan struct{}
	if c.IsWebSocket() {
		sk, err := admitSocket(c, s.agentSockets, id, "")
		if err != nil {
			return err
		}
		defer s.agentSockets.Release(sk)
		replaced = sk.Replaced
	}
	// Subscribed before the upgrade completes: once the agent's client is connected,
	// they count as online and miss nothing.
	sub := s.opts.Chat.Hub().SubscribeAgent(id, 1024)
	defer s.opts.Chat.Hub().Unsubscribe(sub)
	conn, err := websocket.Accept(c.Response(), c.Request(), nil) // same origin only
	if err != nil {
		return nil
	}
	s.sessions.Serve(c.Request().Context(), conn, sub, livechat.Peer{Author: chat.Agent, UserID: &id, Replaced: replaced})
	return nil
}
