package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/notify"
)

// notificationsPage is what the notifications settings page shows.
type notificationsPage struct {
	Targets           []targetView
	Events            []string
	Kinds             []string
	Users             []accounts.User
	UnansweredMinutes int
	NewSecret         string // a webhook's signing secret, on the page that created it only
}

type targetView struct {
	notify.Target
	Log []notify.Attempt
}

func (s *notifyArea) pageNotifications(c echo.Context) error {
	d := s.pages.Page(c, "settings.notifications")
	switch c.QueryParam("ok") {
	case "":
	case "test-ok":
		d.Flash = translate(d.Lang, "notifications.test_ok")
	case "test-failed":
		d.Error = translate(d.Lang, "notifications.test_failed")
	default:
		d.Flash = translate(d.Lang, "common.saved")
	}
	return s.renderNotifications(c, http.StatusOK, d, "")
}

func (s *notifyArea) renderNotifications(c echo.Context, status int, d pageData, secret string) error {
	ctx := c.Request().Context()
	targets, err := s.hooks.Targets(ctx)
	if err != nil {
		return err
	}
	views := make([]targetView, len(targets))
	for i, t := range targets {
		log, err := s.hooks.Log(ctx, t.ID, 5)
		if err != nil {
			return err
		}
		views[i] = targetView{Target: t, Log: log}
	}
	users, err := s.users.ListUsers(ctx)
	if err != nil {
		return err
	}
	active := users[:0]
	for _, u := range users {
		if u.Active {
			active = append(active, u)
		}
	}
	d.Data = notificationsPage{Targets: views, Events: notify.Events, Kinds: notify.Kinds, Users: active,
		UnansweredMinutes: int(notify.UnansweredWait(ctx, s.settings).Minutes()), NewSecret: secret}
	return s.pages.Render(c, status, "notifications", d)
}

func (s *notifyArea) pageCreateTarget(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	name := f.Get("name")
	in := notify.TargetInput{Kind: f.Get("kind"), Name: &name, Events: f["events"], URL: f.Get("url"), Server: f.Get("server"),
		DeviceKey: f.Get("device_key"), Secret: f.Get("secret")}
	if in.Events == nil {
		in.Events = []string{}
	}
	for _, v := range f["user_ids"] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			in.UserIDs = append(in.UserIDs, id)
		}
	}
	_, secret, err := s.hooks.CreateTarget(c.Request().Context(), in)
	if err != nil {
		return s.pages.FormProblem(c, err, "settings.notifications", "", func(d pageData, status int) error {
			for _, k := range []string{"kind", "name", "url", "server"} {
				d.Form[k] = f.Get(k)
			}
			return s.renderNotifications(c, status, d, "")
		})
	}
	if in.Kind == notify.KindWebhook && f.Get("secret") == "" {
		// The generated secret is shown on this answer, never in an address or again.
		d := s.pages.Page(c, "settings.notifications")
		d.Flash = translate(d.Lang, "common.saved")
		return s.renderNotifications(c, http.StatusCreated, d, secret)
	}
	return c.Redirect(http.StatusSeeOther, "/settings/notifications?ok=created")
}

func (s *notifyArea) pageTestTarget(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	a, err := s.hooks.Test(c.Request().Context(), id)
	if err != nil {
		return err
	}
	result := "test-ok"
	if a.Error != "" {
		result = "test-failed"
	}
	return c.Redirect(http.StatusSeeOther, "/settings/notifications?ok="+url.QueryEscape(result)+"#target-"+strconv.FormatInt(id, 10))
}

func (s *notifyArea) pageToggleTarget(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	f, err := form(c)
	if err != nil {
		return err
	}
	active := f.Get("active") == "true"
	if _, err := s.hooks.UpdateTarget(c.Request().Context(), id, notify.TargetInput{Active: &active}); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/notifications?ok=saved")
}

func (s *notifyArea) pageDeleteTarget(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.hooks.DeleteTarget(c.Request().Context(), id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/notifications?ok=deleted")
}

func (s *notifyArea) pageSaveNotifySettings(c echo.Context) error {
	f, err := form(c)
	if err != nil {
		return err
	}
	if err := s.setUnansweredMinutes(c.Request().Context(), f.Get("unanswered_minutes")); err != nil {
		return s.pages.FormProblem(c, err, "settings.notifications", "", func(d pageData, status int) error {
			return s.renderNotifications(c, status, d, "")
		})
	}
	return c.Redirect(http.StatusSeeOther, "/settings/notifications?ok=saved")
}
