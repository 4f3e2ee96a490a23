package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/notify"
	"github.com/sproudstack/sproudchat/instance/internal/web/page"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/platform/httpbody"
)

// notifyTargets is what the notification settings need of notify.Hooks.
type notifyTargets interface {
	Targets(ctx context.Context) ([]notify.Target, error)
	Target(ctx context.Context, id int64) (notify.Target, error)
	CreateTarget(ctx context.Context, in notify.TargetInput) (notify.Target, string, error)
	UpdateTarget(ctx context.Context, id int64, in notify.TargetInput) (notify.Target, error)
	DeleteTarget(ctx context.Context, id int64) error
	Test(ctx context.Context, id int64) (notify.Attempt, error)
	Log(ctx context.Context, targetID int64, limit int) ([]notify.Attempt, error)
}

// notifyArea serves the notification targets and settings, pages and API.
type notifyArea struct {
	hooks    notifyTargets
	settings notify.SettingsStore
	users    interface {
		ListUsers(ctx context.Context) ([]accounts.User, error)
	}
	pages *page.Renderer
	clock clock.Clock
}

// targetJSON is a notification target as the API shows it: never its URL, key or
// secret, only a hint to tell targets apart.
type targetJSON struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	Events    []string  `json:"events"`
	Hint      string    `json:"hint"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Secret is the webhook's signing secret, in the answer that created it only.
	Secret string `json:"secret,omitempty"`
}

func toTargetJSON(t notify.Target) targetJSON {
	return targetJSON{ID: t.ID, Kind: t.Kind, Name: t.Name, Events: t.Events, Hint: t.Hint, Active: t.Active, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

type attemptJSON struct {
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code"`
	Error      string    `json:"error"`
	OK         bool      `json:"ok"`
}

func toAttemptJSON(a notify.Attempt) attemptJSON {
	return attemptJSON{At: a.At, StatusCode: a.StatusCode, Error: a.Error, OK: a.Error == ""}
}

func (s *notifyArea) apiListTargets(c echo.Context) error {
	list, err := s.hooks.Targets(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]targetJSON, len(list))
	for i, t := range list {
		out[i] = toTargetJSON(t)
	}
	return c.JSON(http.StatusOK, map[string]any{"targets": out, "events": notify.Events, "kinds": notify.Kinds})
}

func (s *notifyArea) apiCreateTarget(c echo.Context) error {
	var in notify.TargetInput
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	t, secret, err := s.hooks.CreateTarget(c.Request().Context(), in)
	if err != nil {
		return err
	}
	out := toTargetJSON(t)
	out.Secret = secret
	return c.JSON(http.StatusCreated, out)
}

func (s *notifyArea) apiGetTarget(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	t, err := s.hooks.Target(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTargetJSON(t))
}

func (s *notifyArea) apiUpdateTarget(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in notify.TargetInput
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	t, err := s.hooks.UpdateTarget(c.Request().Context(), id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTargetJSON(t))
}

func (s *notifyArea) apiDeleteTarget(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.hooks.DeleteTarget(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// apiTestTarget sends a test notification now and answers with how it went.
func (s *notifyArea) apiTestTarget(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	a, err := s.hooks.Test(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAttemptJSON(a))
}

func (s *notifyArea) apiTargetLog(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.hooks.Target(ctx, id); err != nil {
		return err
	}
	log, err := s.hooks.Log(ctx, id, 200)
	if err != nil {
		return err
	}
	out := make([]attemptJSON, len(log))
	for i, a := range log {
		out[i] = toAttemptJSON(a)
	}
	return c.JSON(http.StatusOK, map[string]any{"attempts": out})
}

func (s *notifyArea) apiNotifySettings(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]int{"unanswered_minutes": int(notify.UnansweredWait(c.Request().Context(), s.settings).Minutes())})
}

func (s *notifyArea) apiSetNotifySettings(c echo.Context) error {
	var in struct {
		UnansweredMinutes int `json:"unanswered_minutes"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	if err := s.setUnansweredMinutes(c.Request().Context(), strconv.Itoa(in.UnansweredMinutes)); err != nil {
		return err
	}
	return s.apiNotifySettings(c)
}

func (s *notifyArea) setUnansweredMinutes(ctx context.Context, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		n = 0 // refused as out of range
	}
	return notify.SetUnansweredWait(ctx, s.settings, n, s.clock.Now())
}
