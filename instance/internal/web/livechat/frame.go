// Package livechat is the chat's live connection: the WebSocket protocol that visitors
// (the widget) and agents (the inbox) speak, and the counting of connections that keeps
// them bounded. Frames in are stored and acknowledged; messages out go each once and in
// order; a client that reconnects resumes after the last message it has.
//
// The protocol, as JSON text frames:
//
//	client → server
//	  {"type":"send","client_id":"…","body":"…"}        a message (agents add conversation_id, internal)
//	  {"type":"resume","after":seq}                      replay everything after seq
//	  {"type":"typing","on":true}                        passed on to the other side
//	server → client
//	  {"type":"ack","client_id":"…","seq":n}             a send was stored as seq n
//	  {"type":"error","client_id":"…","detail":"…"}      a send was refused
//	  {"type":"message",…}                               a message, in seq order, each once
//	  {"type":"typing","author":"…","on":…}              the other side types
//	  {"type":"conversation","conversation":{…}}         (agents) a line of the inbox changed
//
// The server pings every PingEvery and closes a connection that does not answer within
// WriteTimeout; a connection whose subscriber falls behind is closed with 1013 (try
// again later: reconnect and resume), one replaced by a newer tab of the same chat or
// agent with CloseReplaced, and every connection with 1012 (service restart: reconnect
// and resume) when the hub closes for shutdown.
package livechat

import (
	"fmt"
	"time"

	"github.com/sproudstack/sproudchat/instance/internal/chat"
)

// Frame is one WebSocket message, both ways.
type Frame struct {
	Type           string    `json:"type"` // resume, send, message, ack, error, typing, conversation
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
	Internal     bool             `json:"internal,omitempty"`
	Attachment   *AttachmentFrame `json:"attachment,omitempty"`
	Conversation *Conversation    `json:"conversation,omitempty"` // type "conversation": a line of the inbox changed
	New          bool             `json:"new,omitempty"`          // …because the conversation has just started
	UserID       *int64           `json:"user_id,omitempty"`      // the agent who wrote it; only agents are told
}

// AttachmentFrame is a file in a message. Agents download it at URL; a visitor posts
// their token to the same URL (no token in any address).
type AttachmentFrame struct {
	ID          int64  `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
}

// MessageFrame is m as a "message" frame.
func MessageFrame(m chat.Message) Frame {
	f := Frame{Type: "message", ConversationID: m.ConversationID, Seq: m.Seq, Author: string(m.Author), Body: m.Body, ClientID: m.ClientID,
		At: m.CreatedAt, Internal: m.Internal, UserID: m.AuthorUserID}
	if a := m.Attachment; a != nil {
		f.Attachment = &AttachmentFrame{ID: a.ID, Filename: a.Filename, ContentType: a.ContentType, Size: a.Size, URL: fmt.Sprintf("/api/v1/chat/attachments/%d", a.ID)}
	}
	return f
}

// Conversation is a conversation as the API shows it. The visitor's token is never
// part of it.
type Conversation struct {
	ID              int64      `json:"id"`
	VisitorName     string     `json:"visitor_name"`
	VisitorEmail    string     `json:"visitor_email"`
	Status          string     `json:"status"`
	AssigneeID      *int64     `json:"assignee_id"`
	LastSeq         int64      `json:"last_seq"`
	Origin          string     `json:"origin"`
	StartedAt       time.Time  `json:"started_at"`
	FirstResponseAt *time.Time `json:"first_response_at"`
	ClosedAt        *time.Time `json:"closed_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	ReadSeq         int64      `json:"read_seq"`
	Unread          int64      `json:"unread"`
}

// ToConversation is c as the API shows it.
func ToConversation(c chat.Conversation) Conversation {
	return Conversation{ID: c.ID, VisitorName: c.VisitorName, VisitorEmail: c.VisitorEmail, Status: c.Status, AssigneeID: c.AssigneeID,
		LastSeq: c.LastSeq, Origin: c.Origin, StartedAt: c.StartedAt, FirstResponseAt: c.FirstResponseAt, ClosedAt: c.ClosedAt, UpdatedAt: c.UpdatedAt,
		ReadSeq: c.ReadSeq, Unread: c.Unread}
}
