package vault

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a Write or Read starts (uploads, fetches, lock renewals) ends with it.
// Idle keep-alive connections of the S3 clients are the HTTP transport's, not ours.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}
