package notify

import (
	"context"
	"fmt"
	"strings"

	"github.com/sproudstack/sproudchat/instance/internal/chat"
)

// Transcript mails a chat's transcript to its visitor, at the address they gave when
// the chat started: never to an address named in the request, so the instance cannot
// be made to mail strangers.
func (n *TicketMail) Transcript(ctx context.Context, c chat.Conversation, msgs []chat.Message) error {
	var b strings.Builder
	name := c.VisitorName
	if name == "" {
		name = "there"
	}
	fmt.Fprintf(&b, "Hello %s,\n\nhere is the transcript of your chat of %s (UTC).\n\n", name, c.StartedAt.UTC().Format("2006-01-02 15:04"))
	b.WriteString(chat.Transcript(msgs, "15:04", func(a chat.Author) string {
		switch a {
		case chat.Agent:
			return "Support"
		case chat.System:
			return "—"
		}
		return "You"
	}))
	_, err := n.mailer.Enqueue(ctx, Mail{To: c.VisitorEmail, Subject: fmt.Sprintf("Transcript of your chat [chat #%d]", c.ID), Body: b.String(), Kind: "transcript"})
	return err
}
