package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/controlplane/client"
	"github.com/sproudstack/sproudchat/controlplane/internal/backups"
	"github.com/sproudstack/sproudchat/controlplane/internal/lifecycle"
	"github.com/sproudstack/sproudchat/controlplane/internal/wire"
	"github.com/sproudstack/sproudchat/platform/httpbody"
	"github.com/sproudstack/sproudchat/platform/problem"
)

// Backups is the backup use cases (backups.Service).
type Backups interface {
	// Create records a manual backup, taken in the background. Returns
	// lifecycle.ErrNotFound for an unknown instance, lifecycle.ErrConflict for a
	// destroyed one.
	Create(ctx context.Context, instanceID, actor string) (lifecycle.Backup, error)
	// List returns lifecycle.ErrNotFound for an unknown instance.
	List(ctx context.Context, instanceID string) ([]lifecycle.Backup, error)
	// Restore puts the instance in restoring. Returns lifecycle.ErrNotFound for an
	// unknown instance or a backup that is unknown or another instance's, and
	// lifecycle.ErrConflict for a backup not completed or an instance not settled.
	Restore(ctx context.Context, instanceID, backupID, actor string) (lifecycle.Instance, error)
	// Purge erases every backup of the instance and returns how many there were.
	Purge(ctx context.Context, instanceID, actor string) (int, error)
	Drills(ctx context.Context, instanceID string, limit int) ([]lifecycle.Drill, error)
	// StartDrill starts a restore drill of the instance's newest completed backup in
	// the background. Returns lifecycle.ErrNotFound for an unknown instance,
	// lifecycle.ErrConflict when it has no completed backup or a drill runs.
	StartDrill(ctx context.Context, instanceID string) (lifecycle.Drill, error)
	Stale(ctx context.Context) ([]backups.Stale, error)
}

func (s *Server) createBackup(c echo.Context) error {
	b, err := s.opts.Backups.Create(c.Request().Context(), c.Param("id"), actor(c))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/instances/"+b.InstanceID+"/backups")
	return c.JSON(http.StatusAccepted, wire.Backup(b))
}

func (s *Server) listBackups(c echo.Context) error {
	bs, err := s.opts.Backups.List(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	out := client.BackupList{Items: make([]client.Backup, len(bs))}
	for i, b := range bs {
		out.Items[i] = wire.Backup(b)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) restoreInstance(c echo.Context) error {
	var in client.Restore
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	in.BackupID = strings.TrimSpace(in.BackupID)
	if !lifecycle.ValidBackupID(in.BackupID) {
		return &lifecycle.ValidationError{Fields: map[string]string{"backup_id": "is not a backup id (sproudctl backup list shows them)"}}
	}
	ctx, id := c.Request().Context(), c.Param("id")
	inst, err := s.opts.Backups.Restore(ctx, id, in.BackupID, actor(c))
	if errors.Is(err, lifecycle.ErrNotFound) {
		// Not found is the instance or the backup; when the instance is there, the
		// backup is what is wrong with the request.
		if _, ierr := s.opts.Instances.Get(ctx, id); ierr == nil {
			return &lifecycle.ValidationError{Fields: map[string]string{"backup_id": "is not a backup of this instance"}}
		}
	}
	return s.accepted(c)(inst, err)
}

func (s *Server) purgeBackups(c echo.Context) error {
	n, err := s.opts.Backups.Purge(c.Request().Context(), c.Param("id"), actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, client.Purged{InstanceID: c.Param("id"), Deleted: n})
}

func (s *Server) listDrills(c echo.Context) error {
	limit := 50
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return &lifecycle.ValidationError{Fields: map[string]string{"limit": "must be a number from 1 to 500"}}
		}
		limit = n
	}
	ds, err := s.opts.Backups.Drills(c.Request().Context(), c.QueryParam("instance_id"), limit)
	if err != nil {
		return err
	}
	out := client.DrillList{Items: make([]client.Drill, len(ds))}
	for i, d := range ds {
		out.Items[i] = wire.Drill(d)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) startDrill(c echo.Context) error {
	var in client.StartDrill
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.InstanceID) == "" {
		return &lifecycle.ValidationError{Fields: map[string]string{"instance_id": "is required"}}
	}
	d, err := s.opts.Backups.StartDrill(c.Request().Context(), strings.TrimSpace(in.InstanceID))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, wire.Drill(d))
}

func (s *Server) listStale(c echo.Context) error {
	st, err := s.opts.Backups.Stale(c.Request().Context())
	if err != nil {
		return err
	}
	out := client.StaleList{Items: make([]client.Stale, len(st))}
	for i, x := range st {
		out.Items[i] = client.Stale{InstanceID: x.InstanceID, Slug: x.Slug, LastSuccess: x.LastSuccess}
	}
	return c.JSON(http.StatusOK, out)
}

// errNoBackups answers every backup route of a control plane without a backup target.
var errNoBackups = problem.New(http.StatusServiceUnavailable, "backups-off", "this control plane keeps no backups")

// noBackups stands in for Backups when none is configured.
type noBackups struct{}

func (noBackups) Create(context.Context, string, string) (lifecycle.Backup, error) {
	return lifecycle.Backup{}, errNoBackups
}
func (noBackups) List(context.Context, string) ([]lifecycle.Backup, error) { return nil, errNoBackups }
func (noBackups) Restore(context.Context, string, string, string) (lifecycle.Instance, error) {
	return lifecycle.Instance{}, errNoBackups
}
func (noBackups) Purge(context.Context, string, string) (int, error) { return 0, errNoBackups }
func (noBackups) Drills(context.Context, string, int) ([]lifecycle.Drill, error) {
	return nil, errNoBackups
}
func (noBackups) StartDrill(context.Context, string) (lifecycle.Drill, error) {
	return lifecycle.Drill{}, errNoBackups
}
func (noBackups) Stale(context.Context) ([]backups.Stale, error) { return nil, errNoBackups }

// createRequest is the domain's form of a create body.
func createRequest(in client.CreateInstance) lifecycle.CreateRequest {
	return lifecycle.CreateRequest{CustomerID: in.CustomerID, Slug: in.Slug, Plan: in.Plan, AdminEmail: in.AdminEmail, AdminName: in.AdminName,
		RestoreFrom: in.RestoreFrom}
}
