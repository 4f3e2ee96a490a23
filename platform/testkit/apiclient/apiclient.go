// Package apiclient talks to a running instance's JSON API in tests, as the instance's
// own pages do: a cookie jar for the session, the CSRF token from the login answer sent
// on every later request, redirects not followed. The instance's end-to-end test, the
// control plane's and the runtimes' conformance suite use it.
package apiclient

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"
	"time"
)

// Options configure a Client.
type Options struct {
	// HTTP is the client to send with (its Transport, Timeout); nil means one with a
	// 15 s timeout. New gives it a cookie jar if it has none and stops it following
	// redirects.
	HTTP *http.Client
}

// Client is one browser session with an instance.
type Client struct {
	t    testing.TB
	base string
	http *http.Client
	csrf string
}

// New returns a Client for the instance at base ("http://127.0.0.1:8080").
func New(t testing.TB, base string, o Options) *Client {
	hc := o.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	if hc.Jar == nil {
		hc.Jar, _ = cookiejar.New(nil) // never fails without options
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{t: t, base: base, http: hc}
}

// Call sends method to path with body as JSON (none if nil) and returns the status and
// the answer decoded as a JSON object (nil if it is not one). It fails t if no answer
// comes.
func (c *Client) Call(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out) // an answer that is no JSON object leaves out nil
	return res.StatusCode, out
}

// Must is Call that fails t unless the answer has status want.
func (c *Client) Must(method, path string, body any, want int) map[string]any {
	c.t.Helper()
	code, out := c.Call(method, path, body)
	if code != want {
		c.t.Fatalf("%s %s: %d %v, want %d", method, path, code, out, want)
	}
	return out
}

// Setup creates the instance's first admin with its setup token (POST /api/v1/setup).
func (c *Client) Setup(token, name, email, password string) {
	c.t.Helper()
	c.Must("POST", "/api/v1/setup", map[string]string{"token": token, "name": name, "email": email, "password": password}, http.StatusCreated)
}

// Login opens a session (POST /api/v1/session) and keeps its CSRF token for the calls
// that follow.
func (c *Client) Login(email, password string) {
	c.t.Helper()
	out := c.Must("POST", "/api/v1/session", map[string]string{"email": email, "password": password}, http.StatusOK)
	c.csrf, _ = out["csrf_token"].(string)
}

// CSRFToken is the token Login received ("" before): a secret that must show nowhere
// else, such as in the instance's logs.
func (c *Client) CSRFToken() string { return c.csrf }

// Page GETs path as the session's browser would and returns the status and the body as
// text (an HTML page). It fails t if no answer comes.
func (c *Client) Page(path string) (int, string) {
	c.t.Helper()
	res, err := c.http.Get(c.base + path)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	return res.StatusCode, string(b)
}

// PostForm posts form to path as a page's form would (urlencoded, with the session's
// cookies) and returns the status; redirects are not followed. It fails t if no answer
// comes.
func (c *Client) PostForm(path string, form url.Values) int {
	c.t.Helper()
	res, err := c.http.PostForm(c.base+path, form)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	res.Body.Close()
	return res.StatusCode
}

// Upload posts r as the multipart part "file" named filename to path (an attachment
// upload), streamed, with the session's CSRF token, and returns the status and the
// answer decoded as a JSON object. It fails t if no answer comes.
func (c *Client) Upload(path, filename string, r io.Reader) (int, map[string]any) {
	c.t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", filename)
		if err == nil {
			_, err = io.Copy(part, r)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest("POST", c.base+path, pr)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}
