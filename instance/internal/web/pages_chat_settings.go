package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/chat"
)

// chatSettingsPage is what the chat settings page shows.
type chatSettingsPage struct {
	chatSettings
	Snippet string
	Canned  []chat.Canned
	Agents  []agentJSON
}

func (s *chatArea) pageChatSettings(c echo.Context) error {
	d := s.pages.Page(c, "settings.chat")
	if ok := c.QueryParam("ok"); ok != "" {
		d.Flash = translate(d.Lang, "common.saved")
	}
	return s.renderChatSettings(c, http.StatusOK, d, nil)
}

// renderChatSettings shows the page; with form set, the admin's rejected input stays
// in the fields.
func (s *chatArea) renderChatSettings(c echo.Context, status int, d pageData, form *chatSettings) error {
	ctx := c.Request().Context()
	cs, err := s.readChatSettings(ctx)
	if err != nil {
		return err
	}
	if form != nil {
		cs = *form
	}
	canned, err := s.chat.CannedResponses(ctx)
	if err != nil {
		return err
	}
	agents, err := s.chatAgents(ctx)
	if err != nil {
		return err
	}
	d.Data = chatSettingsPage{chatSettings: cs, Canned: canned, Agents: agents,
		Snippet: `<script src="` + strings.TrimSuffix(s.baseURL.String(), "/") + `/widget.js" async></script>`}
	return s.pages.Render(c, status, "chat_settings", d)
}

// chatSettingsError shows the chat settings again with the reasons a change was
// refused, the admin's input kept; other errors pass on.
func (s *chatArea) chatSettingsError(c echo.Context, err error, form *chatSettings) error {
	return s.pages.FormProblem(c, err, "settings.chat", "shortcut", func(d pageData, status int) error {
		return s.renderChatSettings(c, status, d, form)
	})
}

func (s *chatArea) pageSaveChatSettings(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	var origins []string
	for _, line := range strings.Split(f.Get("origins"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			origins = append(origins, line)
		}
	}
	colour, greeting, offline := f.Get("colour"), f.Get("greeting"), f.Get("offline_text")
	if _, err := s.saveChatSettings(c.Request().Context(), chatSettingsInput{Origins: &origins, Colour: &colour, Greeting: &greeting, OfflineText: &offline}); err != nil {
		return s.chatSettingsError(c, err, &chatSettings{Origins: origins, Widget: chat.Widget{Colour: colour, Greeting: greeting, OfflineText: offline}})
	}
	return c.Redirect(http.StatusSeeOther, "/settings/chat?ok=saved")
}

func (s *chatArea) pageCreateCanned(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	if _, err := s.chat.CreateCanned(c.Request().Context(), f.Get("shortcut"), f.Get("body")); err != nil {
		return s.chatSettingsError(c, err, nil)
	}
	return c.Redirect(http.StatusSeeOther, "/settings/chat?ok=canned#canned")
}

func (s *chatArea) pageDeleteCanned(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.chat.DeleteCanned(c.Request().Context(), id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/chat?ok=canned#canned")
}

func (s *chatArea) pageSetAgentLimit(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	f, err := form(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	u, err := s.users.FindUser(ctx, id)
	if err != nil {
		return err
	}
	limit, err := strconv.Atoi(f.Get("max_chats"))
	if err != nil || !u.Role.Can(accounts.ChatAnswer) {
		return s.chatSettingsError(c, instance.InvalidField("max_chats", "between", "must be between %d and %d", 1, 100), nil)
	}
	if limit == 0 {
		limit = -1 // zero means "unchanged" to SetPresence; here it is a wrong number
	}
	if _, err := s.chat.SetPresence(ctx, id, "", limit); err != nil {
		return s.chatSettingsError(c, err, nil)
	}
	return c.Redirect(http.StatusSeeOther, "/settings/chat?ok=agents#agents")
}
