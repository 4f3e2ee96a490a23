package chat

import "sync"

// Hub fans stored messages out to the live connections of their conversation and to
// every agent inbox. Delivery never blocks: a subscriber whose buffer is full is
// dropped (its connection closes, and the client resumes from its last sequence), so
// one slow client cannot hold up the rest.
type Hub struct {
	mu      sync.Mutex
	byConv  map[int64]map[*Subscriber]struct{}
	agents  map[*Subscriber]struct{}
	closing chan struct{} // closed by Close
	once    sync.Once
}

// Update says that a conversation changed (started, assigned, read, closed): inboxes
// redraw its line.
type Update struct {
	Conversation Conversation
	New          bool // it has just started: the inbox may ring
}

// Subscriber is one live connection.
type Subscriber struct {
	C       chan Message  // what to deliver; buffered
	Typing  chan Typing   // who is typing; a full buffer loses these, never the subscriber
	Updates chan Update   // agents only; a full buffer drops the subscriber, as for C
	Dropped chan struct{} // closed when the hub gave up on this subscriber
	// Closing is closed when the instance is shutting down (see Hub.Close): the
	// connection ends, asking its client to come back.
	Closing <-chan struct{}
	UserID  int64 // the agent's user; 0 for a visitor
	once    sync.Once
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{byConv: map[int64]map[*Subscriber]struct{}{}, agents: map[*Subscriber]struct{}{}, closing: make(chan struct{})}
}

// Close tells every subscriber, and any that subscribes later, that the instance is
// shutting down: their Closing channel is closed. Calling it again does nothing.
func (h *Hub) Close() { h.once.Do(func() { close(h.closing) }) }

func (h *Hub) newSubscriber(buffer int) *Subscriber {
	return &Subscriber{C: make(chan Message, buffer), Typing: make(chan Typing, 4), Updates: make(chan Update, 64), Dropped: make(chan struct{}),
		Closing: h.closing}
}

// SubscribeConversation returns a subscriber for one conversation's messages.
func (h *Hub) SubscribeConversation(conv int64, buffer int) *Subscriber {
	s := h.newSubscriber(buffer)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byConv[conv] == nil {
		h.byConv[conv] = map[*Subscriber]struct{}{}
	}
	h.byConv[conv][s] = struct{}{}
	return s
}

// SubscribeAgent returns a subscriber for every conversation's messages and updates,
// for an agent: while it is subscribed the agent counts as connected.
func (h *Hub) SubscribeAgent(userID int64, buffer int) *Subscriber {
	s := h.newSubscriber(buffer)
	s.UserID = userID
	h.mu.Lock()
	defer h.mu.Unlock()
	h.agents[s] = struct{}{}
	return s
}

// Unsubscribe removes s wherever it is.
func (h *Hub) Unsubscribe(s *Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.agents, s)
	for conv, subs := range h.byConv {
		delete(subs, s)
		if len(subs) == 0 {
			delete(h.byConv, conv)
		}
	}
}

// ConnectedAgents lists the users with an open inbox connection, each once.
func (h *Hub) ConnectedAgents() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[int64]bool{}
	var out []int64
	for s := range h.agents {
		if !seen[s.UserID] {
			seen[s.UserID] = true
			out = append(out, s.UserID)
		}
	}
	return out
}

// PublishUpdate hands u to every agent; one whose buffer is full is dropped and, on
// reconnecting, reloads its list.
func (h *Hub) PublishUpdate(u Update) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.agents {
		select {
		case s.Updates <- u:
		default:
			h.drop(s, u.Conversation.ID)
		}
	}
}

// Publish hands m to its conversation's subscribers and to every agent. Callers
// publish a conversation's messages in sequence order (the store gives them under one
// transaction per message, and Send publishes after storing).
func (h *Hub) Publish(m Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !m.Internal { // notes are for the team; visitors subscribe per conversation
		for s := range h.byConv[m.ConversationID] {
			h.deliver(s, m)
		}
	}
	for s := range h.agents {
		h.deliver(s, m)
	}
}

// Typing says that someone started or stopped writing in a conversation. It is not
// stored: a lost one only means an indicator shows a moment late.
type Typing struct {
	ConversationID int64
	Author         Author
	On             bool
}

// PublishTyping hands t to its conversation's subscribers and to every agent, without
// ever blocking or dropping anyone.
func (h *Hub) PublishTyping(t Typing) {
	h.mu.Lock()
	defer h.mu.Unlock()
	send := func(s *Subscriber) {
		select {
		case s.Typing <- t:
		default:
		}
	}
	for s := range h.byConv[t.ConversationID] {
		send(s)
	}
	for s := range h.agents {
		send(s)
	}
}

// deliver never blocks; a full subscriber is dropped. Callers hold mu.
func (h *Hub) deliver(s *Subscriber, m Message) {
	select {
	case s.C <- m:
	default:
		h.drop(s, m.ConversationID)
	}
}

// drop gives up on s. Callers hold mu.
func (h *Hub) drop(s *Subscriber, conv int64) {
	s.once.Do(func() { close(s.Dropped) })
	delete(h.agents, s)
	if subs := h.byConv[conv]; subs != nil {
		delete(subs, s)
	}
}
