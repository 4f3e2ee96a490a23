package web

import (
	"embed"
	"html/template"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
	"github.com/sproudstack/sproudchat/instance/internal/web/page"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

var funcs = template.FuncMap{
	"t":     translate,
	"n":     plural,
	"roles": func() []accounts.Role { return accounts.Roles },
	"deref": func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	},
}

// pageData is what every page template gets.
type pageData = page.Data

// loadPages parses the embedded templates into the renderer every area draws with.
func loadPages(o page.Options) (*page.Renderer, error) {
	o.Templates, o.Funcs, o.Nav = templateFiles, funcs, navigation
	return page.New(o)
}

func static(c echo.Context) error {
	name := path.Clean("static/" + c.Param("*"))
	b, err := staticFiles.ReadFile(name)
	if err != nil || !strings.HasPrefix(name, "static/") {
		return echo.ErrNotFound
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	ct := "application/octet-stream"
	switch path.Ext(name) {
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	}
	return c.Blob(http.StatusOK, ct, b)
}
