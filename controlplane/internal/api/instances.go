package api

import (
	"net/http"
	"regexp"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
)

var validKey = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

func (s *Server) createInstance(c echo.Context) error {
	key := c.Request().Header.Get("Idempotency-Key")
	if key != "" && !validKey.MatchString(key) {
		return badRequest("Idempotency-Key must be 1-255 printable ASCII characters")
	}
	var in client.CreateInstance
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	status, body, err := s.opts.Service.Create(c.Request().Context(), token(c).id, key, lifecycle.CreateRequest(in), actor(c))
	if err != nil {
		return err
	}
	var out client.Instance
	if err := jsonUnmarshal(body, &out); err == nil {
		c.Response().Header().Set(echo.HeaderLocation, "/v1/instances/"+out.ID)
	}
	c.Response().Header().Set("Cache-Control", "no-store") // it carries the setup link
	return c.JSONBlob(status, body)
}

func (s *Server) listInstances(c echo.Context) error {
	f := store.InstanceFilter{CustomerID: c.QueryParam("customer_id"), State: lifecycle.State(c.QueryParam("state")), After: c.QueryParam("cursor"), Limit: 50}
	problems := map[string]string{}
	if f.State != "" && !f.State.Valid() {
		problems["state"] = "is not a state"
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			problems["limit"] = "must be a number from 1 to 500"
		}
		f.Limit = n
	}
	if len(problems) > 0 {
		return &lifecycle.ValidationError{Fields: problems}
	}
	items, next, err := s.opts.Service.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := client.InstanceList{Items: make([]client.Instance, len(items)), NextCursor: next}
	for i, inst := range items {
		out.Items[i] = s.opts.Service.Wire(inst)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) getInstance(c echo.Context) error {
	inst, err := s.opts.Service.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.opts.Service.Wire(inst))
}

func (s *Server) suspendInstance(c echo.Context) error {
	var in client.StateChange
	if err := decodeOptionalJSON(c, &in); err != nil {
		return err
	}
	return s.accepted(c)(s.opts.Service.Suspend(c.Request().Context(), c.Param("id"), in.Reason, actor(c)))
}

func (s *Server) resumeInstance(c echo.Context) error {
	var in client.StateChange
	if err := decodeOptionalJSON(c, &in); err != nil {
		return err
	}
	return s.accepted(c)(s.opts.Service.Resume(c.Request().Context(), c.Param("id"), in.Reason, actor(c)))
}

func (s *Server) destroyInstance(c echo.Context) error {
	var in client.StateChange
	if err := decodeOptionalJSON(c, &in); err != nil {
		return err
	}
	return s.accepted(c)(s.opts.Service.Destroy(c.Request().Context(), c.Param("id"), in.Reason, actor(c)))
}

func (s *Server) retryInstance(c echo.Context) error {
	return s.accepted(c)(s.opts.Service.Retry(c.Request().Context(), c.Param("id"), actor(c)))
}

// accepted answers a state change: 202 with the instance as it now is.
func (s *Server) accepted(c echo.Context) func(lifecycle.Instance, error) error {
	return func(inst lifecycle.Instance, err error) error {
		if err != nil {
			return err
		}
		return c.JSON(http.StatusAccepted, s.opts.Service.Wire(inst))
	}
}

func (s *Server) instanceEvents(c echo.Context) error {
	evs, err := s.opts.Service.Events(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	out := client.EventList{Items: make([]client.Event, len(evs))}
	for i, e := range evs {
		out.Items[i] = client.Event{ID: e.ID, InstanceID: e.InstanceID, Type: e.Type, At: e.At, Actor: e.Actor, Reason: e.Reason,
			FromState: string(e.FromState), ToState: string(e.ToState)}
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) instanceLogs(c echo.Context) error {
	if _, err := s.opts.Service.Get(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	lines := 100
	if v := c.QueryParam("lines"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return &lifecycle.ValidationError{Fields: map[string]string{"lines": "must be a number from 1 to 10000"}}
		}
		lines = n
	}
	text, err := s.opts.Runtime.Logs(c.Request().Context(), c.Param("id"), lines)
	if err != nil {
		return translateRuntime(err)
	}
	return c.JSON(http.StatusOK, client.Logs{Lines: text})
}

func (s *Server) listPlans(c echo.Context) error {
	return c.JSON(http.StatusOK, client.PlanList{Items: s.opts.Service.Plans()})
}
