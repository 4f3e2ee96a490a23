package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/wire"
	"github.com/sproudstack/sproudchat/platform/httpbody"
	"github.com/sproudstack/sproudchat/platform/problem"
)

var validKey = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

// createInstance creates an instance and answers 202 with it and its setup link. With
// an Idempotency-Key the response is stored with the instance, and the same request
// with the same key gets it again, even when both race; another body with that key is
// refused (lifecycle.ErrKeyReused, 422).
func (s *Server) createInstance(c echo.Context) error {
	key := c.Request().Header.Get("Idempotency-Key")
	if key != "" && !validKey.MatchString(key) {
		return problem.BadRequest("Idempotency-Key must be 1-255 printable ASCII characters")
	}
	var in client.CreateInstance
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	req := createRequest(in)
	raw, _ := json.Marshal(req)
	sum := sha256.Sum256(raw)
	reqHash := hex.EncodeToString(sum[:])
	tokenID := token(c).ID
	if key != "" {
		if err := s.replay(c, tokenID, key, reqHash); !errors.Is(err, lifecycle.ErrNotFound) {
			return err
		}
	}
	n, err := s.opts.Instances.NewInstance(req)
	if err != nil {
		return err
	}
	out := s.wireInstance(n.Instance)
	out.SetupURL = n.SetupURL
	body, _ := json.Marshal(out)
	var idem *lifecycle.Idempotent
	if key != "" {
		idem = &lifecycle.Idempotent{TokenID: tokenID, Key: key, RequestHash: reqHash, Status: http.StatusAccepted, Body: body}
	}
	err = s.opts.Instances.Create(c.Request().Context(), n, actor(c), idem)
	if errors.Is(err, lifecycle.ErrKeyUsed) {
		return s.replay(c, tokenID, key, reqHash)
	}
	if err != nil {
		return err
	}
	return created(c, http.StatusAccepted, body)
}

// replay gives the response stored under key again. Returns lifecycle.ErrNotFound if
// there is none, lifecycle.ErrKeyReused if it answered another request.
func (s *Server) replay(c echo.Context, tokenID int64, key, reqHash string) error {
	prev, err := s.opts.Instances.Replay(c.Request().Context(), tokenID, key)
	if err != nil {
		return err
	}
	if prev.RequestHash != reqHash {
		return lifecycle.ErrKeyReused
	}
	return created(c, prev.Status, prev.Body)
}

// created writes a create response: it carries the setup link, so nobody caches it.
func created(c echo.Context, status int, body []byte) error {
	var out client.Instance
	if err := json.Unmarshal(body, &out); err == nil {
		c.Response().Header().Set(echo.HeaderLocation, "/v1/instances/"+out.ID)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSONBlob(status, body)
}

func (s *Server) wireInstance(i lifecycle.Instance) client.Instance {
	return wire.Instance(i, s.opts.Instances.URL(i.Slug))
}

func (s *Server) listInstances(c echo.Context) error {
	f := lifecycle.InstanceFilter{CustomerID: c.QueryParam("customer_id"), State: lifecycle.State(c.QueryParam("state")), After: c.QueryParam("cursor"), Limit: 50}
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
	items, next, err := s.opts.Instances.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := client.InstanceList{Items: make([]client.Instance, len(items)), NextCursor: next}
	for i, inst := range items {
		out.Items[i] = s.wireInstance(inst)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) getInstance(c echo.Context) error {
	inst, err := s.opts.Instances.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.wireInstance(inst))
}

func (s *Server) suspendInstance(c echo.Context) error {
	var in client.StateChange
	if err := httpbody.DecodeOptionalJSON(c.Request(), &in); err != nil {
		return err
	}
	return s.accepted(c)(s.opts.Instances.Suspend(c.Request().Context(), c.Param("id"), in.Reason, actor(c)))
}

func (s *Server) resumeInstance(c echo.Context) error {
	var in client.StateChange
	if err := httpbody.DecodeOptionalJSON(c.Request(), &in); err != nil {
		return err
	}
	return s.accepted(c)(s.opts.Instances.Resume(c.Request().Context(), c.Param("id"), in.Reason, actor(c)))
}

func (s *Server) destroyInstance(c echo.Context) error {
	var in client.StateChange
	if err := httpbody.DecodeOptionalJSON(c.Request(), &in); err != nil {
		return err
	}
	return s.accepted(c)(s.opts.Instances.Destroy(c.Request().Context(), c.Param("id"), in.Reason, actor(c)))
}

func (s *Server) retryInstance(c echo.Context) error {
	return s.accepted(c)(s.opts.Instances.Retry(c.Request().Context(), c.Param("id"), actor(c)))
}

// accepted answers a state change: 202 with the instance as it now is.
func (s *Server) accepted(c echo.Context) func(lifecycle.Instance, error) error {
	return func(inst lifecycle.Instance, err error) error {
		if err != nil {
			return err
		}
		return c.JSON(http.StatusAccepted, s.wireInstance(inst))
	}
}

func (s *Server) instanceEvents(c echo.Context) error {
	evs, err := s.opts.Instances.Events(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	out := client.EventList{Items: make([]client.Event, len(evs))}
	for i, e := range evs {
		out.Items[i] = wire.Event(e)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) instanceLogs(c echo.Context) error {
	if _, err := s.opts.Instances.Get(c.Request().Context(), c.Param("id")); err != nil {
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
	plans := s.opts.Instances.Plans()
	out := client.PlanList{Items: make([]client.Plan, len(plans))}
	for i, p := range plans {
		out.Items[i] = wire.Plan(p)
	}
	return c.JSON(http.StatusOK, out)
}
