package problem_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/platform/problem"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name       string
		in         problem.Problem
		wantBody   map[string]any
		retryAfter string
	}{
		{
			name: "validation with field errors",
			in: problem.Problem{Type: problem.Type("validation"), Status: 422, Detail: "some fields are invalid",
				Errors: map[string]string{"slug": "is taken"}, RequestID: "abc"},
			wantBody: map[string]any{"type": "https://sproud.chat/problems/validation", "title": "Unprocessable Entity",
				"status": 422.0, "detail": "some fields are invalid", "errors": map[string]any{"slug": "is taken"}, "request_id": "abc"},
		},
		{
			name:     "blank type and title filled in",
			in:       problem.Problem{Status: 404},
			wantBody: map[string]any{"type": "about:blank", "title": "Not Found", "status": 404.0},
		},
		{
			name:       "retry after rounds up to whole seconds",
			in:         problem.Problem{Type: problem.Type("throttled"), Status: 429, RetryAfter: 1500 * time.Millisecond},
			wantBody:   map[string]any{"type": "https://sproud.chat/problems/throttled", "title": "Too Many Requests", "status": 429.0},
			retryAfter: "2",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := problem.Write(rec, tc.in); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tc.in.Status {
				t.Errorf("status %d, want %d", rec.Code, tc.in.Status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType {
				t.Errorf("content type %q, want %q", ct, problem.ContentType)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantBody, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestError(t *testing.T) {
	err := fmt.Errorf("create instance: %w", problem.BadRequest("field %q must be of type %s", "slug", "string"))
	var pe *problem.Error
	if !errors.As(err, &pe) {
		t.Fatalf("%v is no *problem.Error", err)
	}
	want := problem.Problem{Type: problem.Base + "bad-request", Title: "Bad Request", Status: http.StatusBadRequest,
		Detail: `field "slug" must be of type string`}
	if diff := cmp.Diff(want, pe.Problem()); diff != "" {
		t.Errorf("problem (-want +got):\n%s", diff)
	}
}

func TestProblemError(t *testing.T) {
	p := &problem.Problem{Title: "Unprocessable Entity", Status: 422, Detail: "some fields are invalid",
		Errors: map[string]string{"url": "must use https", "name": "is required"}}
	want := "Unprocessable Entity: some fields are invalid; name is required; url must use https"
	if got := p.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
