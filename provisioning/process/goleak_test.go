package process

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine they started outlives them: a
// runtime's supervisors stop when it is closed or the instance destroyed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
