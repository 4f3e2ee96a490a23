package api_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"

	"github.com/sproudstack/sproudchat/controlplane/internal/api"
	"github.com/sproudstack/sproudchat/controlplane/internal/store"
)

// The served /v1/openapi.json passes a third-party validator (kin-openapi), and it
// documents exactly what the router serves: every route echo has registered is in the
// document and every documented operation is registered.
func TestOpenAPIDocumentIsValidAndMatchesTheRouter(t *testing.T) {
	h := newHarness(t, store.SQLite)
	r := h.call("", "GET", "/v1/openapi.json", "", nil, nil)
	if r.status != 200 {
		t.Fatalf("GET /v1/openapi.json: %d %s", r.status, r.body)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(r.body)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}

	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	router, ok := h.server.Handler().(*echo.Echo)
	if !ok {
		t.Fatalf("the API's handler is a %T, not the echo router", h.server.Handler())
	}
	var served []string
	for _, rt := range router.Routes() {
		if rt.Method == echo.RouteNotFound {
			continue
		}
		served = append(served, strings.ToUpper(rt.Method)+" "+api.OpenAPIPath(rt.Path))
	}
	slices.Sort(documented)
	slices.Sort(served)
	if len(served) == 0 {
		t.Fatal("the router serves no route")
	}
	if diff := cmp.Diff(served, documented); diff != "" {
		t.Errorf("served routes (-) vs. documented operations (+):\n%s", diff)
	}
}
