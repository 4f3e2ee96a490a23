// Package runtimetest is the conformance suite every provisioning.Runtime passes, and an
// in-memory fake runtime for consumers' unit tests.
package runtimetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sproudstack/sproudchat/platform/testkit/apiclient"
	"github.com/sproudstack/sproudchat/provisioning"
)

// Harness is what a driver's test gives the suite.
type Harness struct {
	Runtime provisioning.Runtime
	// Image is the app image (or whatever the runtime reads from Spec.App.Image).
	Image string
	// Leftovers lists what of instance id still exists in the runtime's own terms
	// (containers, volumes, networks; a directory, a process), read behind the runtime's
	// back: the destroy checks trust nothing the runtime says about itself.
	Leftovers func(t *testing.T, id string) []string
	// Steps are the AfterStep names of Apply at which the suite simulates a crash.
	Steps []string
	// ServesApp: the runtime runs the real sproudchat app, so data and modes are checked
	// through its API. The fake does not.
	ServesApp bool
	// Inspect, when set, returns what anyone allowed to inspect instance id sees without
	// opening its secret files: its objects' descriptions (docker inspect), the app
	// process's environment and command line, the runtime's own records. Read behind the
	// runtime's back; no secret value may show in it.
	Inspect func(t *testing.T, id string) string
}

// New builds a harness whose runtime calls afterStep after each step of Apply.
type New func(t *testing.T, afterStep func(step string)) Harness

// Unique returns an id and slug no earlier run used, so tests tolerate leftovers in a
// shared engine.
func Unique(prefix string) (id, slug string) {
	b := make([]byte, 4)
	rand.Read(b)
	s := prefix + "-" + hex.EncodeToString(b)
	return s, s
}

// Spec is a valid starter-like spec for the harness.
func Spec(h Harness, id, slug string) provisioning.Spec {
	return provisioning.Spec{
		ID: id, Slug: slug, Mode: provisioning.ModeActive, BaseURL: "http://" + slug + ".localhost",
		App:      provisioning.AppSpec{Image: h.Image, Resources: provisioning.Resources{MemoryBytes: 128 << 20, MilliCPUs: 500, PIDs: 128}},
		Database: provisioning.DatabaseSpec{Kind: provisioning.SQLite},
		Secrets: map[string]string{
			"SPROUDCHAT_SECRET_KEY":  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			"SPROUDCHAT_SETUP_TOKEN": "conformance-setup-token-" + id,
		},
	}
}

// Run runs the whole suite: every test that applies to what the harness offers (the
// checks through the app's API need ServesApp, the secrets check needs Inspect, the
// tool checks a runtime that is also a provisioning.Tools and ServesApp). Tests
// that do not apply are not run rather than skipped: under CI a skip fails the run.
func Run(t *testing.T, newHarness New) {
	offers := newHarness(t, nil)
	_, tools := offers.Runtime.(provisioning.Tools)
	tools = tools && offers.ServesApp
	tests := []struct {
		name    string
		applies bool
		test    func(*testing.T, New)
	}{
		{"ApplyAnswersAtUpstream", true, testApply},
		{"ApplyTwiceDuplicatesNothing", true, testApplyTwice},
		{"CrashMidApplyConverges", true, testCrash},
		{"ModesKeepData", offers.ServesApp, testModes},
		{"DestroyLeavesNothing", true, testDestroy},
		{"DestroyAppKeepsData", true, testDestroyApp},
		{"ListShowsOrphans", true, testList},
		{"InvalidSpecCreatesNothing", true, testInvalid},
		{"SecretsOutOfSight", offers.Inspect != nil, testSecretsOutOfSight},
		{"ToolRuns", tools, testToolRuns},
		{"ToolRefuses", tools, testToolRefuses},
		{"StopAppKeepsData", tools, testStopApp},
		{"BackupRestore", tools, testBackupRestore},
	}
	for _, tc := range tests {
		if tc.applies {
			t.Run(tc.name, func(t *testing.T) { t.Parallel(); tc.test(t, newHarness) })
		}
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// mustApply applies spec and registers its destruction.
func mustApply(t *testing.T, h Harness, spec provisioning.Spec) provisioning.Status {
	t.Helper()
	t.Cleanup(func() { h.Runtime.Destroy(context.Background(), spec.ID) })
	st, err := h.Runtime.Apply(ctxFor(t), spec)
	if err != nil {
		t.Fatalf("apply %s: %v", spec.ID, err)
	}
	want := applied{ID: spec.ID, Phase: provisioning.PhaseRunning, Ready: true, HasUpstream: true}
	if diff := cmp.Diff(want, applied{st.ID, st.Phase, st.Ready, st.Upstream != ""}); diff != "" {
		t.Fatalf("apply %s returned (-want +got):\n%s", spec.ID, diff)
	}
	return st
}

// applied is what mustApply checks of the status Apply returns.
type applied struct {
	ID          string
	Phase       provisioning.Phase
	Ready       bool
	HasUpstream bool
}

func testApply(t *testing.T, nh New) {
	h := nh(t, nil)
	id, slug := Unique("apply")
	st := mustApply(t, h, Spec(h, id, slug))
	if !h.ServesApp {
		return
	}
	res, err := http.Get("http://" + st.Upstream + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /healthz at %s: %v %v", st.Upstream, res, err)
	}
	res.Body.Close()
	logs, err := h.Runtime.Logs(ctxFor(t), id, 50)
	if err != nil || logs == "" {
		t.Fatalf("logs: %q, %v", logs, err)
	}
	if _, err := h.Runtime.Logs(ctxFor(t), "never-existed", 5); !errors.Is(err, provisioning.ErrNotFound) {
		t.Fatalf("logs of an unknown instance: %v, want ErrNotFound", err)
	}
}

func testApplyTwice(t *testing.T, nh New) {
	h := nh(t, nil)
	id, slug := Unique("twice")
	spec := Spec(h, id, slug)
	first := mustApply(t, h, spec)
	before := h.Leftovers(t, id)
	second := mustApply(t, h, spec)
	after := h.Leftovers(t, id)
	where := func(st provisioning.Status) []string {
		return []string{"upstream " + st.Upstream, "spec hash " + st.SpecHash}
	}
	if diff := cmp.Diff(where(first), where(second)); diff != "" {
		t.Errorf("second apply moved the instance (-first +second):\n%s", diff)
	}
	slices.Sort(before)
	slices.Sort(after)
	if !slices.Equal(before, after) || len(after) == 0 {
		t.Errorf("second apply changed the objects: %v → %v", before, after)
	}
}

func testCrash(t *testing.T, nh New) {
	for _, step := range nh(t, nil).Steps {
		t.Run(step, func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctxFor(t))
			h := nh(t, func(s string) {
				if s == step {
					cancel()
				}
			})
			id, slug := Unique("crash")
			spec := Spec(h, id, slug)
			t.Cleanup(func() { h.Runtime.Destroy(context.Background(), id) })
			if _, err := h.Runtime.Apply(ctx, spec); err == nil {
				t.Fatalf("apply interrupted after %s reported success", step)
			}
			if len(h.Leftovers(t, id)) == 0 {
				t.Fatalf("nothing exists after a crash past %s: the test proves nothing", step)
			}
			again := nh(t, nil)
			mustApply(t, again, spec)
			if st, err := again.Runtime.Status(ctxFor(t), id); err != nil || !st.Ready {
				t.Fatalf("status after converging: %+v, %v", st, err)
			}
		})
	}
}

func testModes(t *testing.T, nh New) {
	h := nh(t, nil)
	id, slug := Unique("modes")
	spec := Spec(h, id, slug)
	st := mustApply(t, h, spec)
	app := setupAda(t, st, spec)
	app.Must("POST", "/api/v1/users", map[string]string{"name": "Al", "email": "al@example.org", "role": "agent", "password": "agent password 1"}, 201)

	spec.Mode, spec.ReadOnlyUntil = provisioning.ModeReadOnly, time.Date(2026, 12, 29, 0, 0, 0, 0, time.UTC)
	st = mustApply(t, h, spec)
	if st.Mode != "" && st.Mode != provisioning.ModeReadOnly {
		t.Errorf("status mode %q after applying read_only", st.Mode)
	}
	app = newAppClient(t, st.Upstream)
	app.Login("ada@example.org", "conformance password")
	if n := len(app.Must("GET", "/api/v1/users", nil, 200)["items"].([]any)); n != 2 {
		t.Fatalf("%d users while read-only, want 2", n)
	}
	app.Must("POST", "/api/v1/users", map[string]string{"name": "Bo", "email": "bo@example.org", "role": "agent", "password": "agent password 2"}, 423)

	spec.Mode, spec.ReadOnlyUntil = provisioning.ModeActive, time.Time{}
	st = mustApply(t, h, spec)
	app = newAppClient(t, st.Upstream)
	app.Login("al@example.org", "agent password 1")
	app.Must("PATCH", "/api/v1/me", map[string]string{"name": "Alfred"}, 200)
}

func testDestroy(t *testing.T, nh New) {
	h := nh(t, nil)
	id, slug := Unique("destroy")
	mustApply(t, h, Spec(h, id, slug))
	if err := h.Runtime.Destroy(ctxFor(t), id); err != nil {
		t.Fatal(err)
	}
	if left := h.Leftovers(t, id); len(left) > 0 {
		t.Fatalf("left after destroy: %v", left)
	}
	if err := h.Runtime.Destroy(ctxFor(t), id); err != nil {
		t.Fatalf("second destroy: %v", err)
	}
	if _, err := h.Runtime.Status(ctxFor(t), id); !errors.Is(err, provisioning.ErrNotFound) {
		t.Fatalf("status after destroy: %v, want ErrNotFound", err)
	}
}

// testDestroyApp: the app goes, the data stays, and the next Apply brings the instance
// back with it.
func testDestroyApp(t *testing.T, nh New) {
	h := nh(t, nil)
	id, slug := Unique("keep")
	spec := Spec(h, id, slug)
	st := mustApply(t, h, spec)
	if h.ServesApp {
		setupAda(t, st, spec)
	}
	for i := 0; i < 2; i++ { // the second time finds nothing to stop
		if err := h.Runtime.DestroyApp(ctxFor(t), id); err != nil {
			t.Fatalf("destroy app (%d): %v", i+1, err)
		}
	}
	if st, err := h.Runtime.Status(ctxFor(t), id); err != nil || st.Phase == provisioning.PhaseRunning || st.Ready {
		t.Fatalf("status after destroying the app: %+v, %v; want it there, not running", st, err)
	}
	if len(h.Leftovers(t, id)) == 0 {
		t.Fatal("nothing is left after destroying the app: the data went with it")
	}
	st = mustApply(t, h, spec)
	if h.ServesApp {
		newAppClient(t, st.Upstream).Login("ada@example.org", "conformance password")
	}
	if err := h.Runtime.DestroyApp(ctxFor(t), "never-existed"); err != nil {
		t.Fatalf("destroy the app of an unknown instance: %v", err)
	}
}

func testList(t *testing.T, nh New) {
	h := nh(t, nil)
	id, slug := Unique("orphan")
	mustApply(t, h, Spec(h, id, slug))
	// A fresh runtime value knows nothing of the instance but still lists it.
	fresh := nh(t, nil)
	all, err := fresh.Runtime.List(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range all {
		if st.ID == id {
			if diff := cmp.Diff([]string{slug, string(provisioning.PhaseRunning)}, []string{st.Slug, string(st.Phase)}); diff != "" {
				t.Errorf("List shows %s with slug and phase (-want +got):\n%s", id, diff)
			}
			return
		}
	}
	t.Fatalf("List of %d instances lacks %s", len(all), id)
}

func testInvalid(t *testing.T, nh New) {
	h := nh(t, nil)
	id, _ := Unique("invalid")
	spec := Spec(h, id, "Not_A_DNS_Label")
	t.Cleanup(func() { h.Runtime.Destroy(context.Background(), id) })
	if _, err := h.Runtime.Apply(ctxFor(t), spec); !errors.Is(err, provisioning.ErrInvalid) {
		t.Fatalf("apply with a bad slug: %v, want ErrInvalid", err)
	}
	if left := h.Leftovers(t, id); len(left) > 0 {
		t.Fatalf("a refused apply left %v", left)
	}
}

// testSecretsOutOfSight: the app gets its secrets (the setup token works) but none of
// their values shows to whoever can inspect the instance.
func testSecretsOutOfSight(t *testing.T, nh New) {
	h := nh(t, nil)
	id, slug := Unique("secrets")
	spec := Spec(h, id, slug)
	st := mustApply(t, h, spec)
	seen := h.Inspect(t, id)
	if seen == "" {
		t.Fatal("inspecting the instance shows nothing: the test proves nothing")
	}
	for name, value := range spec.Secrets {
		if strings.Contains(seen, value) {
			t.Errorf("the value of %s shows when the instance is inspected", name)
		}
	}
	if h.ServesApp {
		setupAda(t, st, spec)
	}
}

// setupAda makes Ada the first admin of the instance at st through spec's setup token
// and returns her session.
func setupAda(t *testing.T, st provisioning.Status, spec provisioning.Spec) *apiclient.Client {
	t.Helper()
	app := newAppClient(t, st.Upstream)
	app.Must("POST", "/api/v1/setup", map[string]string{"token": spec.Secrets["SPROUDCHAT_SETUP_TOKEN"], "name": "Ada", "email": "ada@example.org", "password": "conformance password"}, 201)
	app.Login("ada@example.org", "conformance password")
	return app
}

// newAppClient is a browser session with the instance a runtime serves at upstream.
func newAppClient(t *testing.T, upstream string) *apiclient.Client {
	return apiclient.New(t, "http://"+upstream, apiclient.Options{HTTP: &http.Client{Timeout: 10 * time.Second}})
}
