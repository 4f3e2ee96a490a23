package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/web/page"
	"github.com/sproudstack/sproudchat/platform/clock"
	"github.com/sproudstack/sproudchat/platform/httpbody"
)

// accountsService is what setup, login, one's own account, API tokens and the users'
// administration need of accounts.Service.
type accountsService interface {
	CheckSetupToken(ctx context.Context, token string) error
	SetupPending(ctx context.Context) (bool, error)
	Setup(ctx context.Context, in accounts.SetupInput, m accounts.Meta) (accounts.User, error)
	Login(ctx context.Context, email, password string, m accounts.Meta) (accounts.LoginResult, error)
	Logout(ctx context.Context, p accounts.Principal, m accounts.Meta) error
	ChangePassword(ctx context.Context, p accounts.Principal, current, next string, m accounts.Meta) error
	UpdateProfile(ctx context.Context, p accounts.Principal, name *string, locale *string, m accounts.Meta) (accounts.User, error)
	CreateToken(ctx context.Context, p accounts.Principal, name string, m accounts.Meta) (accounts.NewToken, error)
	ListTokens(ctx context.Context, p accounts.Principal) ([]accounts.APIToken, error)
	RevokeToken(ctx context.Context, p accounts.Principal, id int64, m accounts.Meta) error
	CreateUser(ctx context.Context, by accounts.Principal, in accounts.NewUserInput, m accounts.Meta) (accounts.User, error)
	FindUser(ctx context.Context, id int64) (accounts.User, error)
	ListUsers(ctx context.Context) ([]accounts.User, error)
	UpdateUser(ctx context.Context, by accounts.Principal, id int64, c accounts.UserChanges, m accounts.Meta) (accounts.User, error)
	ListAudit(ctx context.Context, f accounts.AuditFilter) ([]accounts.AuditEntry, error) // one's own, for the export
}

// accountsArea serves setup, login and logout, one's own account and API tokens, and
// the administration of users.
type accountsArea struct {
	accounts accountsService
	pages    *page.Renderer
	cookies  cookies
	clock    clock.Clock
}

// userJSON is a user on the wire; the password hash never leaves the store.
type userJSON struct {
	ID          int64      `json:"id"`
	Email       string     `json:"email"`
	Name        string     `json:"name"`
	Role        string     `json:"role"`
	Active      bool       `json:"active"`
	Locale      string     `json:"locale"`
	TicketScope string     `json:"ticket_scope"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
}

func toUserJSON(u accounts.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, Name: u.Name, Role: string(u.Role), Active: u.Active, Locale: u.Locale, TicketScope: u.TicketScope,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastLoginAt: u.LastLoginAt}
}

type meJSON struct {
	userJSON
	Permissions []accounts.Permission `json:"permissions"`
}

func toMeJSON(u accounts.User) meJSON {
	return meJSON{userJSON: toUserJSON(u), Permissions: u.Role.Permissions()}
}

type sessionJSON struct {
	User      meJSON `json:"user"`
	CSRFToken string `json:"csrf_token,omitempty"`
}

type listJSON[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func pathID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, instance.ErrNotFound
	}
	return id, nil
}

func (s *accountsArea) apiSetup(c echo.Context) error {
	var in struct {
		Token    string `json:"token"`
		Name     string `json:"name"`
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	u, err := s.accounts.Setup(c.Request().Context(), accounts.SetupInput(in), meta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"user": toUserJSON(u)})
}

func (s *accountsArea) apiLogin(c echo.Context) error {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	res, err := s.accounts.Login(c.Request().Context(), in.Email, in.Password, meta(c))
	if err != nil {
		return err
	}
	s.cookies.set(c, res.Token, res.ExpiresAt)
	return c.JSON(http.StatusOK, sessionJSON{User: toMeJSON(res.Principal.User), CSRFToken: res.Principal.CSRFToken})
}

func (s *accountsArea) apiSession(c echo.Context) error {
	p := mustPrincipal(c)
	return c.JSON(http.StatusOK, sessionJSON{User: toMeJSON(p.User), CSRFToken: p.CSRFToken})
}

func (s *accountsArea) apiLogout(c echo.Context) error {
	if err := s.accounts.Logout(c.Request().Context(), mustPrincipal(c), meta(c)); err != nil {
		return err
	}
	s.cookies.clear(c)
	return c.NoContent(http.StatusNoContent)
}

func (s *accountsArea) apiMe(c echo.Context) error {
	return c.JSON(http.StatusOK, toMeJSON(mustPrincipal(c).User))
}

func (s *accountsArea) apiUpdateMe(c echo.Context) error {
	var in struct {
		Name   *string `json:"name"`
		Locale *string `json:"locale"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	u, err := s.accounts.UpdateProfile(c.Request().Context(), mustPrincipal(c), in.Name, in.Locale, meta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toMeJSON(u))
}

func (s *accountsArea) apiChangePassword(c echo.Context) error {
	var in struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	if err := s.accounts.ChangePassword(c.Request().Context(), mustPrincipal(c), in.Current, in.New, meta(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// apiExportMe gives a user everything the instance holds about them as a person
// (GDPR art. 15 and 20): profile, API tokens (without secrets) and their audit trail.
func (s *accountsArea) apiExportMe(c echo.Context) error {
	ctx := c.Request().Context()
	p := mustPrincipal(c)
	tokens, err := s.accounts.ListTokens(ctx, p)
	if err != nil {
		return err
	}
	trail := []auditJSON{}
	if err := eachAudit(ctx, s.accounts, accounts.AuditFilter{ActorID: p.User.ID}, func(e accounts.AuditEntry) {
		trail = append(trail, toAuditJSON(e))
	}); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="sproudchat-account-%d.json"`, p.User.ID))
	return c.JSON(http.StatusOK, map[string]any{
		"exported_at": s.clock.Now(),
		"user":        toUserJSON(p.User),
		"api_tokens":  toTokensJSON(tokens),
		"audit_trail": trail,
	})
}

func (s *accountsArea) apiListUsers(c echo.Context) error {
	users, err := s.accounts.ListUsers(c.Request().Context())
	if err != nil {
		return err
	}
	out := listJSON[userJSON]{Items: make([]userJSON, len(users))}
	for i, u := range users {
		out.Items[i] = toUserJSON(u)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *accountsArea) apiGetUser(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	u, err := s.accounts.FindUser(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toUserJSON(u))
}

func (s *accountsArea) apiCreateUser(c echo.Context) error {
	var in struct {
		Name     string `json:"name"`
		Email    string `json:"email"`
		Role     string `json:"role"`
		Password string `json:"password"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	u, err := s.accounts.CreateUser(c.Request().Context(), mustPrincipal(c),
		accounts.NewUserInput{Name: in.Name, Email: in.Email, Password: in.Password, Role: accounts.Role(in.Role)}, meta(c))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, fmt.Sprintf("/api/v1/users/%d", u.ID))
	return c.JSON(http.StatusCreated, toUserJSON(u))
}

func (s *accountsArea) apiUpdateUser(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in struct {
		Name        *string `json:"name"`
		Role        *string `json:"role"`
		Active      *bool   `json:"active"`
		TicketScope *string `json:"ticket_scope"`
	}
	if err := httpbody.DecodeJSON(c.Request(), &in); err != nil {
		return err
	}
	ch := accounts.UserChanges{Name: in.Name, Active: in.Active, TicketScope: in.TicketScope}
	if in.Role != nil {
		r := accounts.Role(*in.Role)
		ch.Role = &r
	}
	u, err := s.accounts.UpdateUser(c.Request().Context(), mustPrincipal(c), id, ch, meta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toUserJSON(u))
}
