package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testdata/provisioning.json is govulncheck's JSON output for the provisioning module,
// cut down to three advisories against github.com/docker/docker: two called, one only
// required.
func TestRead(t *testing.T) {
	f, err := os.Open("testdata/provisioning.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	docker := "github.com/docker/docker@v28.5.2+incompatible"
	want := []*Vuln{
		{ID: "GO-2026-4883", Summary: "Moby has an Off-by-one error in its plugin privilege validation in github.com/docker/docker", Found: docker,
			CalledFrom: []string{"github.com/sproudstack/sproudchat/provisioning/docker.(*Runtime).Logs (docker/docker.go:515)"}},
		{ID: "GO-2026-4887", Summary: "Moby has AuthZ plugin bypass when provided oversized request bodies in github.com/docker/docker", Found: docker,
			CalledFrom: []string{"github.com/sproudstack/sproudchat/provisioning/docker.Ping (docker/docker.go:147)"}},
	}
	if diff := cmp.Diff(want, rep.Called); diff != "" {
		t.Errorf("called (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"GO-2026-5617"}, rep.NotCalled); diff != "" {
		t.Errorf("not called (-want +got):\n%s", diff)
	}
}

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		name, accept string
		want         int
		says         string
	}{
		{name: "a called vulnerability fails", accept: "", want: 1, says: "VULNERABLE GO-2026-4883"},
		{name: "one accepted, one not", accept: "GO-2026-4883 daemon only\n", want: 1, says: "VULNERABLE GO-2026-4887"},
		{name: "all accepted pass", accept: "# why\nGO-2026-4883 daemon only\n\nGO-2026-4887 daemon only\n", want: 0, says: "ACCEPTED GO-2026-4887"},
		{name: "an accepted one no module calls fails", accept: "GO-2026-4883 a\nGO-2026-4887 b\nGO-2026-5617 c\n", want: 1, says: "STALE GO-2026-5617"},
		{name: "an entry without a reason is refused", accept: "GO-2026-4883\n", want: 2, says: "GO-2026-4883 has no reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream, err := os.Open("testdata/provisioning.json")
			if err != nil {
				t.Fatal(err)
			}
			defer stream.Close()
			accept := filepath.Join(t.TempDir(), "accepted.txt")
			if err := os.WriteFile(accept, []byte(tc.accept), 0o644); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if got := run(stream, &out, accept); got != tc.want {
				t.Errorf("exit code %d, want %d; output:\n%s", got, tc.want, out.String())
			}
			if !strings.Contains(out.String(), tc.says) {
				t.Errorf("output lacks %q:\n%s", tc.says, out.String())
			}
		})
	}
}
