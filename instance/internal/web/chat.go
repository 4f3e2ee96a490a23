package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/ratelimit"
	"github.com/sproudstack/sproudchat/instance/internal/tickets"
	"github.com/sproudstack/sproudchat/instance/internal/web/livechat"
	"github.com/sproudstack/sproudchat/instance/internal/web/page"
	"github.com/sproudstack/sproudchat/platform/httpbody"
	"github.com/sproudstack/sproudchat/platform/problem"
)

// chatService is what the widget, the inbox and the chat settings need of chat.Service.
type chatService interface {
	Start(ctx context.Context, name, email, origin string) (chat.Conversation, string, error)
	ByToken(ctx context.Context, token string) (chat.Conversation, error)
	Conversation(ctx context.Context, id int64) (chat.Conversation, error)
	List(ctx context.Context, status string, limit int) ([]chat.Conversation, error)
	After(ctx context.Context, conv, seq int64) ([]chat.Message, error)
	ForVisitor(ctx context.Context, conv, seq int64) ([]chat.Message, error)
	Send(ctx context.Context, conv int64, author chat.Author, userID *int64, body, clientID string) (chat.Message, error)
	Attach(ctx context.Context, m chat.Message, filename string, r io.Reader) (chat.Message, error)
	Attachment(ctx context.Context, id int64) (chat.Attachment, error)
	Assign(ctx context.Context, id int64, to *int64, note string) (chat.Conversation, error)
	MarkRead(ctx context.Context, id, seq int64) (chat.Conversation, error)
	Close(ctx context.Context, id int64) (chat.Conversation, error)
	Reopen(ctx context.Context, id int64) (chat.Conversation, error)
	Online(ctx context.Context) (bool, error)
	Agents(ctx context.Context, userIDs []int64) ([]chat.AgentState, error)
	SetPresence(ctx context.Context, userID int64, status string, maxChats int) (chat.AgentSettings, error)
	CannedResponses(ctx context.Context) ([]chat.Canned, error)
	CreateCanned(ctx context.Context, shortcut, body string) (chat.Canned, error)
	DeleteCanned(ctx context.Context, id int64) error
	Origins(ctx context.Context, st chat.SettingsStore) ([]string, error)
	SetOrigins(ctx context.Context, st chat.SettingsStore, origins []string) ([]string, error)
	WidgetSettings(ctx context.Context, st chat.SettingsStore) (chat.Widget, error)
	SetWidgetSettings(ctx context.Context, st chat.SettingsStore, w chat.Widget) error
	Hub() *chat.Hub
}

// chatArea serves the chat: the widget's API and live connection on the customer's
// website, the agents' inbox, and the chat's settings.
type chatArea struct {
	chat     chatService
	settings chat.SettingsStore
	users    userDirectory
	files    interface{ Limits() tickets.Limits } // nil: no files in the chat
	blobs    BlobOpener
	tickets  interface {
		Create(ctx context.Context, by *accounts.Principal, in tickets.NewTicket) (tickets.Ticket, error)
	}
	confirm     Confirmer    // nil sends no confirmation
	transcripts Transcripter // nil offers none
	pages       *page.Renderer
	baseURL     *url.URL
	readOnly    bool
	log         *slog.Logger
	// chatStartLimit allows each address chatStartsPerWindow new chats per
	// chatStartWindow: every chat tells the team, and anyone may start one.
	chatStartLimit *ratelimit.Limiter
	// visitorUploadLimit allows each address 30 chat files an hour: the quota is the
	// instance's, and one visitor must not fill it.
	visitorUploadLimit *ratelimit.Limiter
	// contactLimit is the contact form's (see Server).
	contactLimit *ratelimit.Limiter
	// visitorSockets and agentSockets count live connections; sessions serves them.
	visitorSockets, agentSockets *livechat.Counter
	sessions                     *livechat.Sessions
}

// frame is one WebSocket message of the live chat (see livechat).
type frame = livechat.Frame

var messageFrame = livechat.MessageFrame

// widget serves the chat widget for <script src="https://<instance>/widget.js" async>.
// It is cached briefly, so a new release reaches every website within minutes.
func widget(c echo.Context) error {
	b, err := widgetJS()
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", b)
}

// chatOrigins are the websites allowed to embed the widget.
func (s *chatArea) chatOrigins(ctx context.Context) []string {
	if s.chat == nil {
		return nil
	}
	o, err := s.chat.Origins(ctx, s.settings)
	if err != nil {
		s.log.ErrorContext(ctx, "read chat origins", "error", err.Error())
		return nil
	}
	return o
}

func (s *chatArea) chatPreflight(c echo.Context) error {
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

func (s *chatArea) readChatSettings(ctx context.Context) (chatSettings, error) {
	w, err := s.chat.WidgetSettings(ctx, s.settings)
	if err != nil {
		return chatSettings{}, err
	}
	o, err := s.chat.Origins(ctx, s.settings)
	return chatSettings{Origins: o, Widget: w}, err
}

func (s *chatArea) apiChatSettings(c echo.Context) error {
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
func (s *chatArea) saveChatSettings(ctx context.Context, in chatSettingsInput) (chatSettings, error) {
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
		if cs.Origins, err = s.chat.SetOrigins(ctx, s.settings, *in.Origins); err != nil {
			return chatSettings{}, err
		}
	}
	if w != cs.Widget {
		if err := s.chat.SetWidgetSettings(ctx, s.settings, w); err != nil {
			return chatSettings{}, err
		}
	}
	cs.Widget = w
	return cs, nil
}

// apiSetChatSettings changes the fields the request names.
func (s *chatArea) apiSetChatSettings(c echo.Context) error {
	var in chatSettingsInput
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
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
func (s *chatArea) apiChatConfig(c echo.Context) error {
	ctx := c.Request().Context()
	w, err := s.chat.WidgetSettings(ctx, s.settings)
	if err != nil {
		return err
	}
	online, err := s.chat.Online(ctx)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]any{"colour": w.Colour, "greeting": w.Greeting, "offline_text": w.OfflineText,
		"online": online, "read_only": s.readOnly, "max_file": s.maxChatFile()})
}

// How many chats one address may start, and in what time.
const (
	chatStartsPerWindow = 5
	chatStartWindow     = 10 * time.Minute
)

// apiStartChat opens a conversation for a visitor and hands them its token. Each
// address may start chatStartsPerWindow chats per chatStartWindow; past that the answer
// is 429 with Retry-After and a detail in the visitor's language, which the widget shows.
func (s *chatArea) apiStartChat(c echo.Context) error {
	var in struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	slot, wait := s.chatStartLimit.Reserve(addressKey(c))
	if wait > 0 {
		c.Response().Header().Set("Retry-After", itoa(int((wait+time.Second-1)/time.Second)))
		minutes := int((wait + time.Minute - 1) / time.Minute)
		return problem.New(http.StatusTooManyRequests, "throttled", plural(lang(c.Request(), nil), "chat.slow_down", minutes))
	}
	conv, token, err := s.chat.Start(c.Request().Context(), in.Name, in.Email, c.Request().Header.Get("Origin"))
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
	errAddressSockets = problem.New(http.StatusTooManyRequests, "too-many-connections", livechat.ErrAddressFull.Error())
	errSocketsFull    = problem.New(http.StatusServiceUnavailable, "busy", livechat.ErrFull.Error())
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
func (s *chatArea) chatVisitorWS(c echo.Context) error {
	ctx := c.Request().Context()
	conv, err := s.chat.ByToken(ctx, c.QueryParam("token"))
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
	// A visitor rarely has more than a few messages in flight, and a full buffer only
	// means reconnect-and-resume: a small buffer keeps idle connections cheap. Subscribed
	// before the upgrade completes, as agents are: a message stored the moment the
	// client is connected reaches it without a resume.
	sub := s.chat.Hub().SubscribeConversation(conv.ID, 32)
	defer s.chat.Hub().Unsubscribe(sub)
	conn, err := websocket.Accept(c.Response(), c.Request(), &websocket.AcceptOptions{OriginPatterns: hosts})
	if err != nil {
		return nil // Accept has answered (403 for a foreign origin, 426 without an upgrade)
	}
	s.sessions.Serve(ctx, conn, sub, livechat.Peer{Author: chat.Visitor, Conversation: conv.ID, Replaced: replaced})
	return nil
}

// chatAgentWS is an agent's live inbox: every conversation's messages. An agent's
// newest livechat.AgentTabs connections stay open.
func (s *chatArea) chatAgentWS(c echo.Context) error {
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
	sub := s.chat.Hub().SubscribeAgent(id, 1024)
	defer s.chat.Hub().Unsubscribe(sub)
	conn, err := websocket.Accept(c.Response(), c.Request(), nil) // same origin only
	if err != nil {
		return nil
	}
	s.sessions.Serve(c.Request().Context(), conn, sub, livechat.Peer{Author: chat.Agent, UserID: &id, Replaced: replaced})
	return nil
}
