package httpbody_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/platform/httpbody"
	"github.com/sproudstack/sproudchat/platform/problem"
)

type target struct {
	Name string `json:"name"`
	Age  int    `json:"age"`
}

func request(t *testing.T, contentType, body string, limit int64) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if limit > 0 {
		r.ContentLength = -1 // as a chunked request: only reading finds the size
		if err := httpbody.Limit(httptest.NewRecorder(), r, limit); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		limit       int64
		want        target
		wantStatus  int    // 0: no error
		wantDetail  string // checked if not empty
	}{
		{name: "one object", contentType: "application/json", body: `{"name":"Ada","age":36}`, want: target{"Ada", 36}},
		{name: "media type parameters", contentType: "application/json; charset=utf-8", body: `{"name":"Ada"}`, want: target{Name: "Ada"}},
		{name: "trailing white space", contentType: "application/json", body: "{\"name\":\"Ada\"}\n\n", want: target{Name: "Ada"}},
		{name: "wrong media type", contentType: "text/plain", body: `{"name":"Ada"}`, wantStatus: 415},
		{name: "no media type", body: `{"name":"Ada"}`, wantStatus: 415},
		{name: "unknown field", contentType: "application/json", body: `{"name":"Ada","vip":true}`, wantStatus: 400, wantDetail: `unknown field "vip"`},
		{name: "two objects", contentType: "application/json", body: `{"name":"Ada"}{"name":"Bob"}`, wantStatus: 400, wantDetail: "the body must hold exactly one JSON object"},
		{name: "malformed", contentType: "application/json", body: `{"name":`, wantStatus: 400, wantDetail: "the body is not valid JSON"},
		{name: "empty", contentType: "application/json", body: ``, wantStatus: 400, wantDetail: "the body is empty; send a JSON object"},
		{name: "not an object", contentType: "application/json", body: `[1]`, wantStatus: 400, wantDetail: "the body must be a JSON object"},
		{name: "wrong field type", contentType: "application/json", body: `{"age":"old"}`, wantStatus: 400, wantDetail: `field "age" must be of type int`},
		{name: "past the limit", contentType: "application/json", body: `{"name":"` + strings.Repeat("x", 2048) + `"}`, limit: 1024, wantStatus: 413, wantDetail: "the request body is larger than 1 KiB"},
		{name: "past the limit after the object", contentType: "application/json", body: `{"name":"Ada"}` + strings.Repeat(" ", 2048), limit: 1024, wantStatus: 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got target
			err := httpbody.DecodeJSON(request(t, tc.contentType, tc.body, tc.limit), &got)
			checkError(t, err, tc.wantStatus, tc.wantDetail)
			if diff := cmp.Diff(tc.want, got); tc.wantStatus == 0 && diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
}

func checkError(t *testing.T, err error, wantStatus int, wantDetail string) {
	t.Helper()
	if wantStatus == 0 {
		if err != nil {
			t.Fatalf("error %v, want none", err)
		}
		return
	}
	var pe *problem.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T), want a *problem.Error of status %d", err, err, wantStatus)
	}
	if pe.Status != wantStatus {
		t.Errorf("status %d (%s), want %d", pe.Status, pe.Detail, wantStatus)
	}
	if wantDetail != "" && pe.Detail != wantDetail {
		t.Errorf("detail %q, want %q", pe.Detail, wantDetail)
	}
}

func TestDecodeOptionalJSON(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		want       target
		wantStatus int
	}{
		{name: "no body keeps the defaults", body: "", want: target{Name: "default"}},
		{name: "white space only", body: " \n\t", want: target{Name: "default"}},
		{name: "a body is decoded", body: `{"name":"Ada"}`, want: target{Name: "Ada"}},
		{name: "a body is strict", body: `{"nme":"Ada"}`, wantStatus: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := target{Name: "default"}
			err := httpbody.DecodeOptionalJSON(request(t, "application/json", tc.body, 0), &got)
			checkError(t, err, tc.wantStatus, "")
			if diff := cmp.Diff(tc.want, got); tc.wantStatus == 0 && diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLimitRefusesDeclaredLength(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", 2<<20)))
	err := httpbody.Limit(httptest.NewRecorder(), r, 1<<20)
	checkError(t, err, http.StatusRequestEntityTooLarge, "the request body is larger than 1 MiB")
}

func TestIsTooLarge(t *testing.T) {
	r := request(t, "application/json", strings.Repeat("x", 100), 10)
	_, err := r.Body.Read(make([]byte, 100))
	if err == nil {
		_, err = r.Body.Read(make([]byte, 100))
	}
	if limit, ok := httpbody.IsTooLarge(err); !ok || limit != 10 {
		t.Errorf("IsTooLarge(%v) = %d, %v; want 10, true", err, limit, ok)
	}
	if _, ok := httpbody.IsTooLarge(errors.New("other")); ok {
		t.Error("IsTooLarge(other error) = true")
	}
}
