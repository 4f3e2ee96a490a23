package provisioning

import (
	"context"
	"net/http"
	"time"
)

var probeClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// Probe tells whether the app at upstream (host:port) answers GET /readyz with 200.
func Probe(ctx context.Context, upstream string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+upstream+"/readyz", nil)
	if err != nil {
		return false
	}
	res, err := probeClient.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// WaitReady polls upstream until it is ready, alive() turns false, or ctx ends. It
// returns nil once ready, else why not.
func WaitReady(ctx context.Context, upstream string, alive func() error) error {
	delay := 5 * time.Millisecond
	for {
		if Probe(ctx, upstream) {
			return nil
		}
		if err := alive(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if delay < 200*time.Millisecond {
			delay *= 2
		}
	}
}
