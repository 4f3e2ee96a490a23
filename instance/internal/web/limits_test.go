package web

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

// parallel sends n copies of a request at once (each made by mk) and returns how many
// answers had each status. It uses no testing.T in the goroutines.
func (h *harness) parallel(n int, mk func(i int) *http.Request) map[int]int {
	h.t.Helper()
	var (
		mu     sync.Mutex
		counts = map[int]int{}
		wg     sync.WaitGroup
		start  = make(chan struct{})
	)
	for i := range n {
		req := mk(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			status := -1
			if res, err := http.DefaultClient.Do(req); err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				status = res.StatusCode
			}
			mu.Lock()
			counts[status]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return counts
}

func (h *harness) request(method, path, contentType, body string, hdr map[string]string) *http.Request {
	req, err := http.NewRequest(method, h.http.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return req
}

// TestParallelWrongPasswordsAreCountedBeforeTheHash: 40 wrong passwords for one account
// sent at once meet the limit of 5 like 40 sent one by one. The limit was checked
// before the hash and the failure recorded after it, so all 40 were checked.
func TestParallelWrongPasswordsAreCountedBeforeTheHash(t *testing.T) {
	// The gate waits as long as it takes here: this test is about the throttle, and
	// under -race on a busy machine five real hashes in a row can pass the 3 s default.
	h := newHarness(t, harnessOptions{hash: accounts.DefaultHashParams, gate: accounts.GateOptions{MaxWait: time.Minute}}, true)
	email := h.users[accounts.RoleAgent].Email
	got := h.parallel(40, func(i int) *http.Request {
		return h.request("POST", "/api/v1/session", "application/json",
			fmt.Sprintf(`{"email":%q,"password":"wrong password %d"}`, email, i), map[string]string{"X-Forwarded-For": fmt.Sprintf("10.3.0.%d", i)})
	})
	want := map[int]int{401: accounts.DefaultThrottle.PerAccount, 429: 40 - accounts.DefaultThrottle.PerAccount}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("answers by status (-want +got):\n%s", diff)
	}
	var entries struct{ Items []auditJSON }
	h.loggedIn(accounts.RoleAdmin).get("/api/v1/audit?action=login.failed").decode(t, &entries)
	if len(entries.Items) != accounts.DefaultThrottle.PerAccount {
		t.Fatalf("%d passwords were checked, want %d", len(entries.Items), accounts.DefaultThrottle.PerAccount)
	}
	// And the right password is refused too until the window passes.
	if res := h.client().json("POST", "/api/v1/session", map[string]string{"email": email, "password": passwordOf(accounts.RoleAgent)}); res.status != 429 {
		t.Fatalf("right password after the burst: %d, want 429", res.status)
	}
}

// TestLoginBurstIsGated: more logins at once than the instance may hash are told to come
// back (503, Retry-After, problem+json) instead of each taking argon2's memory; the
// rest are answered as usual, and the login page says so in the visitor's language.
func TestLoginBurstIsGated(t *testing.T) {
	h := newHarness(t, harnessOptions{hash: accounts.DefaultHashParams, gate: accounts.GateOptions{Slots: 1, Queue: 1, MaxWait: time.Minute}}, true)
	const n = 12
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		busy     []response
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for i := range n {
		req := h.request("POST", "/api/v1/session", "application/json",
			fmt.Sprintf(`{"email":"nobody%d@example.org","password":"wrong password"}`, i), map[string]string{"X-Forwarded-For": fmt.Sprintf("10.4.0.%d", i)})
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := http.DefaultClient.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses[-1]++
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			statuses[res.StatusCode]++
			if res.StatusCode == 503 {
				busy = append(busy, response{status: 503, header: res.Header, body: string(b)})
			}
		}()
	}
	close(start)
	wg.Wait()
	if statuses[401] < 2 || statuses[503] == 0 || statuses[401]+statuses[503] != n {
		t.Fatalf("answers by status %v: want only 401 and 503, at least 2 checked (one running, one queued) and some refused", statuses)
	}
	for _, r := range busy {
		p := r.problem(t)
		if !strings.HasSuffix(p.Type, "/busy") || r.header.Get("Retry-After") != "1" {
			t.Fatalf("busy answer: type %q, Retry-After %q", p.Type, r.header.Get("Retry-After"))
		}
	}
	if strings.Contains(h.logs.String(), "request failed") {
		t.Error("a busy answer was logged as a failure")
	}

	// The login page, when the gate is full: hold the only slot and the queue.
	for _, tc := range []struct{ lang, text string }{{"en", "Too many people are signing in"}, {"de", "Gerade melden sich sehr viele"}} {
		t.Run(tc.lang, func(t *testing.T) {
			var (
				wg2  sync.WaitGroup
				page response
				got  = map[int]int{}
				mu2  sync.Mutex
			)
			for i := range 6 {
				wg2.Add(1)
				go func() {
					defer wg2.Done()
					req := h.request("POST", "/login", "application/x-www-form-urlencoded",
						url.Values{"email": {fmt.Sprintf("x%d@example.org", i)}, "password": {"wrong"}}.Encode(),
						map[string]string{"Accept-Language": tc.lang, "X-Forwarded-For": fmt.Sprintf("10.5.0.%d", i), "Origin": h.http.URL})
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						return
					}
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					mu2.Lock()
					defer mu2.Unlock()
					got[res.StatusCode]++
					if res.StatusCode == 503 {
						page = response{status: 503, header: res.Header, body: string(b)}
					}
				}()
			}
			wg2.Wait()
			if page.status != 503 {
				t.Fatalf("no login page was refused as busy: %v", got)
			}
			if !strings.Contains(page.body, tc.text) || page.header.Get("Retry-After") != "1" || !strings.Contains(page.body, `name="email"`) {
				t.Fatalf("busy login page lacks %q, Retry-After or the form: %s", tc.text, page.body)
			}
		})
	}
}

// TestPublicLimitsHoldUnderParallelPosts: each per-address limit of the public forms
// lets exactly its number through when the posts come all at once.
func TestPublicLimitsHoldUnderParallelPosts(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true)
	form := "application/x-www-form-urlencoded"
	cases := []struct {
		name, method, path, contentType, body string
		limit                                 int
	}{
		{"contact form", "POST", "/contact", form, contactForm("S", "s@example.org", "subject", "body", true).Encode(), 5},
		{"chat offline message", "POST", "/api/v1/chat/offline", "application/json", `{"name":"S","email":"s@example.org","message":"hello"}`, 5},
		{"booking", "POST", "/book/" + h.bookType.Slug, form, url.Values{"start": {"2030-01-01T09:00:00Z"}, "name": {"S"}, "email": {"s@example.org"}}.Encode(), 10},
		{"visitor upload", "POST", "/api/v1/chat/attachments", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nnot-a-token\r\n--x--\r\n", 30},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ip := fmt.Sprintf("10.6.%d.1", i)
			got := h.parallel(tc.limit+20, func(int) *http.Request {
				return h.request(tc.method, tc.path, tc.contentType, tc.body, map[string]string{"X-Forwarded-For": ip, "Origin": h.http.URL})
			})
			if got[429] != 20 || got[-1] != 0 {
				t.Fatalf("%d posts at once against a limit of %d: answers %v, want exactly 20 × 429", tc.limit+20, tc.limit, got)
			}
		})
	}
}
