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
	for _, m := range msgs {
		who := "You"
		switch m.Author {
		case chat.Agent:
			who = "Support"
		case chat.System:
			who = "—"
		}
		fmt.Fprintf(&b, "[%s] %s: %s\n", m.CreatedAt.UTC().Format("15:04"), who, m.Body)
	}
	_, err := n.mailer.Enqueue(ctx, Mail{To: c.VisitorEmail, Subject: fmt.Sprintf("Transcript of your chat [chat #%d]", c.ID), Body: b.String(), Kind: "transcript"})
	return err
}
