package serve

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestLayers pins the control plane's dependency rule: the domain (lifecycle) knows no
// echo, SQL or Docker; the use cases and the workers know the store only through the
// interfaces they declare; only serve and cli wire the store in. (net/http comes in
// with provisioning, whose WaitReady asks an app's /readyz.)
func TestLayers(t *testing.T) {
	const mod = "github.com/sproudstack/sproudchat/controlplane/internal/"
	forbidden := map[string][]string{
		"lifecycle": {mod + "store", "gorm.io/", "github.com/labstack/echo", "github.com/docker/"},
		"control":   {mod + "store", "gorm.io/", "github.com/labstack/echo"},
		"reconcile": {mod + "store", "gorm.io/", "github.com/labstack/echo"},
		"jobs":      {mod + "store", "gorm.io/", "github.com/labstack/echo"},
		"api":       {mod + "store", "gorm.io/"},
		"edge":      {mod + "store", "gorm.io/", "github.com/labstack/echo"},
		"webhook":   {mod + "store", "gorm.io/", "github.com/labstack/echo"},
		"wire":      {mod + "store", "gorm.io/", "github.com/labstack/echo"},
	}
	for pkg, bad := range forbidden {
		t.Run(pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", mod+pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", pkg, err)
			}
			deps := strings.Fields(string(out))
			for _, b := range bad {
				if i := slices.IndexFunc(deps, func(d string) bool { return d == b || strings.HasSuffix(b, "/") && strings.HasPrefix(d, b) }); i >= 0 {
					t.Errorf("%s imports %s", pkg, deps[i])
				}
			}
		})
	}
}
