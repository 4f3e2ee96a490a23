package notify

import (
	"context"
	"fmt"
	"strings"

	"github.com/sproudstack/sproudchat/instance/internal/chat"
	"github.com/sproudstack/sproudchat/instance/internal/i18n"
)

// Transcript mails a chat's transcript to its visitor, at the address they gave when
// the chat started: never to an address named in the request, so the instance cannot
// be made to mail strangers.
func (n *TicketMail) Transcript(ctx context.Context, c chat.Conversation, msgs []chat.Message) error {
	tr := translator(ctx, n.Location, i18n.LangFrom(ctx), n.Lang)
	var b strings.Builder
	if c.VisitorName == "" {
		b.WriteString(tr.T("mail.hello_anonymous"))
	} else {
		b.WriteString(tr.T("mail.hello", "Name", c.VisitorName))
	}
	b.WriteString("\n\n" + tr.T("mail.transcript.intro", "When", tr.DateTime(c.StartedAt), "Zone", tr.Zone()) + "\n\n")
	who := map[chat.Author]string{chat.Agent: tr.T("mail.transcript.support"), chat.System: "—", chat.Visitor: tr.T("mail.transcript.you")}
	for _, m := range msgs {
		fmt.Fprintf(&b, "[%s] %s: %s\n", tr.Time(m.CreatedAt), who[m.Author], m.Body)
	}
	_, err := n.mailer.Enqueue(ctx, Mail{To: c.VisitorEmail, Subject: tr.T("mail.transcript.subject", "ID", c.ID), Body: b.String(), Kind: "transcript"})
	return err
}
