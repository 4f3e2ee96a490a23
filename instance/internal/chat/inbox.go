package chat

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sproudstack/sproudchat/instance"
)

// Presence an agent chooses. Offline is not chosen: it is having no inbox open.
const (
	Online  = "online"
	Away    = "away"
	Offline = "offline"
)

// AgentSettings is an agent's chosen presence and how many open chats they take at once.
type AgentSettings struct {
	UserID         int64
	Status         string // Online or Away
	MaxChats       int
	LastAssignedAt *time.Time
}

// DefaultMaxChats is an agent's limit of concurrent chats until someone changes it.
const DefaultMaxChats = 5

// AgentStore keeps the agents' presence and the round-robin's memory.
type AgentStore interface {
	// AgentSettings returns the settings of the users named, defaults for those never set.
	AgentSettings(ctx context.Context, userIDs []int64) (map[int64]AgentSettings, error)
	SetAgentSettings(ctx context.Context, a AgentSettings) error
	// OpenChats counts each user's open assigned conversations.
	OpenChats(ctx context.Context, userIDs []int64) (map[int64]int, error)
}

// AgentState is an agent as the inbox shows them.
type AgentState struct {
	AgentSettings
	Presence  string // Online, Away or Offline
	OpenChats int
}

// Agents returns the presence, limit and load of the users named.
func (s *Service) Agents(ctx context.Context, userIDs []int64) ([]AgentState, error) {
	settings, err := s.store.AgentSettings(ctx, userIDs)
	if err != nil {
		return nil, fmt.Errorf("read agent settings: %w", err)
	}
	open, err := s.store.OpenChats(ctx, userIDs)
	if err != nil {
		return nil, fmt.Errorf("count open chats: %w", err)
	}
	connected := s.hub.ConnectedAgents()
	out := make([]AgentState, 0, len(userIDs))
	for _, id := range userIDs {
		a := AgentState{AgentSettings: settings[id], OpenChats: open[id], Presence: Offline}
		if slices.Contains(connected, id) {
			a.Presence = a.Status
		}
		out = append(out, a)
	}
	return out, nil
}

// SetPresence changes an agent's chosen status and, when maxChats > 0, their limit.
// Returns an Invalid *instance.Error for anything else than online/away or a limit
// outside 1..100.
func (s *Service) SetPresence(ctx context.Context, userID int64, status string, maxChats int) (AgentSettings, error) {
	cur, err := s.store.AgentSettings(ctx, []int64{userID})
	if err != nil {
		return AgentSettings{}, err
	}
	a := cur[userID]
	p := instance.Fields{}
	if status != "" {
		if status != Online && status != Away {
			p.Add("status", "one_of", "must be %s", "online or away")
		}
		a.Status = status
	}
	if maxChats != 0 {
		if maxChats < 1 || maxChats > 100 {
			p.Add("max_chats", "between", "must be between %d and %d", 1, 100)
		}
		a.MaxChats = maxChats
	}
	if err := p.Err(); err != nil {
		return AgentSettings{}, err
	}
	if err := s.store.SetAgentSettings(ctx, a); err != nil {
		return AgentSettings{}, fmt.Errorf("set presence of user %d: %w", userID, err)
	}
	return a, nil
}

// Online tells whether an agent is there to answer: connected and not away.
func (s *Service) Online(ctx context.Context) (bool, error) {
	connected := s.hub.ConnectedAgents()
	if len(connected) == 0 {
		return false, nil
	}
	settings, err := s.store.AgentSettings(ctx, connected)
	if err != nil {
		return false, err
	}
	for _, id := range connected {
		if settings[id].Status == Online {
			return true, nil
		}
	}
	return false, nil
}

// autoAssign gives a new conversation to the online agent under their limit who was
// given one longest ago (round-robin); with none free it stays unassigned, in the
// queue every agent sees. One assignment at a time, so two new chats cannot both
// take an agent's last free place.
func (s *Service) autoAssign(ctx context.Context, conv int64) (*int64, error) {
	s.assignMu.Lock()
	defer s.assignMu.Unlock()
	connected := s.hub.ConnectedAgents()
	if len(connected) == 0 {
		return nil, nil
	}
	settings, err := s.store.AgentSettings(ctx, connected)
	if err != nil {
		return nil, err
	}
	open, err := s.store.OpenChats(ctx, connected)
	if err != nil {
		return nil, err
	}
	var best *AgentSettings
	for _, id := range connected {
		a := settings[id]
		if a.Status != Online || open[id] >= a.MaxChats {
			continue
		}
		if best == nil || before(a, *best) {
			best = &a
		}
	}
	if best == nil {
		return nil, nil
	}
	now := s.clock.Now()
	if err := s.store.Assign(ctx, conv, &best.UserID, now); err != nil {
		return nil, err
	}
	best.LastAssignedAt = &now
	if err := s.store.SetAgentSettings(ctx, *best); err != nil {
		return nil, err
	}
	return &best.UserID, nil
}

// before orders agents for the round-robin: never given a chat first, then the one
// given one longest ago, then the lower user id.
func before(a, b AgentSettings) bool {
	switch {
	case a.LastAssignedAt == nil && b.LastAssignedAt != nil:
		return true
	case a.LastAssignedAt != nil && b.LastAssignedAt == nil:
		return false
	case a.LastAssignedAt != nil && !a.LastAssignedAt.Equal(*b.LastAssignedAt):
		return a.LastAssignedAt.Before(*b.LastAssignedAt)
	}
	return a.UserID < b.UserID
}

// Assign gives a conversation to an agent (claim when it is oneself, transfer when it
// was someone else's) or to nobody, and leaves the team a note saying so. The caller
// has checked that the assignee may answer chats. Returns instance.ErrNotFound.
func (s *Service) Assign(ctx context.Context, id int64, to *int64, note string) (Conversation, error) {
	c, err := s.store.FindConversation(ctx, id)
	if err != nil {
		return Conversation{}, err
	}
	if ptrEq(c.AssigneeID, to) {
		return c, nil
	}
	if err := s.store.Assign(ctx, id, to, s.clock.Now()); err != nil {
		return Conversation{}, fmt.Errorf("assign conversation %d: %w", id, err)
	}
	if note != "" {
		if _, err := s.Post(ctx, Message{ConversationID: id, Author: System, Body: note, Internal: true}); err != nil {
			return Conversation{}, err
		}
	}
	return s.updated(ctx, id, false)
}

func ptrEq(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// MarkRead records that the team read the conversation up to seq.
func (s *Service) MarkRead(ctx context.Context, id, seq int64) (Conversation, error) {
	if err := s.store.MarkRead(ctx, id, seq); err != nil {
		return Conversation{}, err
	}
	return s.updated(ctx, id, false)
}

// updated reads a conversation again and tells every inbox.
func (s *Service) updated(ctx context.Context, id int64, isNew bool) (Conversation, error) {
	c, err := s.store.FindConversation(ctx, id)
	if err != nil {
		return Conversation{}, err
	}
	s.hub.PublishUpdate(Update{Conversation: c, New: isNew})
	return c, nil
}

// Canned is a prepared answer an agent inserts by typing /shortcut.
type Canned struct {
	ID        int64
	Shortcut  string
	Body      string
	CreatedAt time.Time
}

// CannedStore keeps canned responses.
type CannedStore interface {
	ListCanned(ctx context.Context) ([]Canned, error)
	// CreateCanned returns instance.ErrConflict for a shortcut in use.
	CreateCanned(ctx context.Context, c *Canned) error
	// DeleteCanned returns instance.ErrNotFound.
	DeleteCanned(ctx context.Context, id int64) error
}

// CannedResponses lists the canned responses by shortcut.
func (s *Service) CannedResponses(ctx context.Context) ([]Canned, error) {
	return s.store.ListCanned(ctx)
}

// CreateCanned adds a canned response. The shortcut is 1–32 lower-case letters,
// digits, '-' or '_'. Returns an Invalid *instance.Error, or instance.ErrConflict for
// a shortcut in use.
func (s *Service) CreateCanned(ctx context.Context, shortcut, body string) (Canned, error) {
	shortcut = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(shortcut)), "/")
	body = strings.TrimSpace(body)
	p := instance.Fields{}
	if shortcut == "" || len(shortcut) > 32 || strings.Trim(shortcut, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		p.Add("shortcut", "shortcut", "must be 1 to %d letters, digits, - or _", 32)
	}
	if body == "" {
		p.Add("body", "required", "is required")
	} else if utf8.RuneCountInString(body) > MaxBody {
		p.Add("body", "too_long", "is longer than %d characters", MaxBody)
	}
	if err := p.Err(); err != nil {
		return Canned{}, err
	}
	c := Canned{Shortcut: shortcut, Body: body, CreatedAt: s.clock.Now()}
	if err := s.store.CreateCanned(ctx, &c); err != nil {
		return Canned{}, err
	}
	return c, nil
}

// DeleteCanned removes a canned response. Returns instance.ErrNotFound.
func (s *Service) DeleteCanned(ctx context.Context, id int64) error {
	return s.store.DeleteCanned(ctx, id)
}
