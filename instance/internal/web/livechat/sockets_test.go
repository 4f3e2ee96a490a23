package livechat

import (
	"math"
	"testing"
)

// TestVisitorSocketsFollowTheMemoryLimit: the instance's limit of visitor connections
// is sized from the Go runtime's memory limit, which main sets from the container's.
func TestVisitorSocketsFollowTheMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int64
		want  int
	}{
		{"no limit", math.MaxInt64, unlimitedVisitorSockets},
		{"starter: 90% of 128 MiB", 128 << 20 * 9 / 10, 589},
		{"1 GiB", 1 << 30, 5242},
		{"tiny", 4 << 20, minVisitorSockets},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := VisitorSockets(tc.limit); got != tc.want {
				t.Errorf("VisitorSockets(%d) = %d, want %d", tc.limit, got, tc.want)
			}
		})
	}
}
