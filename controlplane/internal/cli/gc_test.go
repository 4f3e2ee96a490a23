package cli

import (
	"strings"
	"testing"
)

// TestGCVolumesNeedsYes: removing data is never the side effect of a listing.
func TestGCVolumesNeedsYes(t *testing.T) {
	code, _, stderr := run(nil, "gc", "--volumes", "--token", "x")
	if code != 2 || !strings.Contains(stderr, "--volumes: only with --yes") {
		t.Fatalf("gc --volumes: exit %d, stderr %q; want a usage error", code, stderr)
	}
}
