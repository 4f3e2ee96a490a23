package runtimetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/sproudstack/sproudchat/platform/testkit/apiclient"
	"github.com/sproudstack/sproudchat/provisioning"
)

// PostJSON posts body as JSON to base+path and returns the status.
func PostJSON(base, path string, body any) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	res, err := http.Post(base+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// SetupAndLogin creates the instance's first admin with the spec's setup token and logs
// in once, as a new customer does.
func SetupAndLogin(t *testing.T, base string, spec provisioning.Spec) {
	t.Helper()
	c := apiclient.New(t, base, apiclient.Options{})
	c.Setup(spec.Secrets["SPROUDCHAT_SETUP_TOKEN"], "Ada", "ada@example.org", "a long admin password")
	c.Login("ada@example.org", "a long admin password")
}

// BadLogins sends n logins with unknown e-mails at once (each costs a full password
// hash) and returns how many answers had each status, and the requests that got none.
func BadLogins(base string, n int) (map[int]int, []error) {
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		errs     []error
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code, err := PostJSON(base, "/api/v1/session", map[string]string{"email": fmt.Sprintf("nobody%d@example.org", i), "password": "wrong password 123"})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			statuses[code]++
		}()
	}
	close(start)
	wg.Wait()
	return statuses, errs
}

// CheckLoginAnswers fails t unless every login got an answer, each 401 (checked), 429
// (throttled) or 503 (busy), and at least one was checked.
func CheckLoginAnswers(t *testing.T, statuses map[int]int, errs []error) {
	t.Helper()
	if len(errs) > 0 {
		t.Fatalf("%d logins got no answer: %v", len(errs), errs[0])
	}
	for code, n := range statuses {
		if code != 401 && code != 429 && code != 503 {
			t.Errorf("%d logins answered %d", n, code)
		}
	}
	if statuses[401] == 0 {
		t.Errorf("no login was checked at all: %v", statuses)
	}
}
