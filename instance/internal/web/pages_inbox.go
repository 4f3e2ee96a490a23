package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

// inboxText are the words the inbox's script shows, in the page's language.
var inboxText = []string{"online", "away", "offline", "unassigned", "visitor", "you", "new_chat", "connected", "disconnected",
	"ticket_made", "failed", "too_big", "note", "closed", "elsewhere"}

// pageInbox is the agents' live chat inbox. The page is a frame; inbox.js fills it
// from the API and keeps it current over the inbox WebSocket.
func (s *chatArea) pageInbox(c echo.Context) error {
	d := s.pages.Page(c, "nav.inbox")
	words := map[string]string{}
	for _, k := range inboxText {
		words[k] = translate(d.Lang, "inbox."+k, "ID", "%s") // inbox.js puts the ticket number in place of %s
	}
	b, err := json.Marshal(words)
	if err != nil {
		return err
	}
	p := mustPrincipal(c)
	d.Data = struct {
		Me        int64
		CanAnswer bool // may reply, assign and close: not while read-only
		Live      bool // may open the live inbox connection
		I18N      string
	}{p.User.ID, p.Can(accounts.ChatAnswer) && !s.readOnly, p.Can(accounts.ChatAnswer), strings.TrimSpace(string(b))}
	return s.pages.Render(c, http.StatusOK, "inbox", d)
}
