package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testdata/stream.jsonl is real `go test -json ./...` output of three packages: a, whose
// tests pass or skip (one of them a subtest); b, with a failing test; c, without tests.
func TestReport(t *testing.T) {
	stream, err := os.ReadFile("testdata/stream.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep, err := Read(bytes.NewReader(stream), &out)
	if err != nil {
		t.Fatal(err)
	}
	want := &Report{
		Passes: 4, Failures: 1,
		Skips: []Skip{
			{Package: "example.com/tr/a", Test: "TestNeedsPostgres", Output: []string{"a_test.go:6: SPROUDCHAT_TEST_POSTGRES_URL is not set"}},
			{Package: "example.com/tr/a", Test: "TestTable/two", Output: []string{"a_test.go:9: not here"}},
		},
		FailedPackages: []string{"example.com/tr/b"},
	}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	for _, s := range []string{"ok  \texample.com/tr/a", "b_test.go:5: got 1, want 2", "--- FAIL: TestBroken", "FAIL\texample.com/tr/b"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
	if strings.Contains(out.String(), "=== RUN") {
		t.Errorf("output has the -v framing lines:\n%s", out.String())
	}
}

func TestExitCode(t *testing.T) {
	stream, err := os.ReadFile("testdata/stream.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var onlyA, cut []string
	for _, l := range strings.SplitAfter(string(stream), "\n") {
		if !strings.Contains(l, `"example.com/tr/b"`) {
			onlyA = append(onlyA, l)
			if !strings.Contains(l, `"Action":"pass","Package":"example.com/tr/a","Elapsed"`) {
				cut = append(cut, l)
			}
		}
	}
	for _, tc := range []struct {
		name       string
		stream     string
		failOnSkip bool
		want       int
		says       string
	}{
		{name: "a failing test fails", stream: string(stream), want: 1, says: "1 failed"},
		{name: "skips pass outside CI", stream: strings.Join(onlyA, ""), want: 0, says: "2 tests skipped:\nSKIP\texample.com/tr/a\tTestNeedsPostgres"},
		{name: "skips fail under CI", stream: strings.Join(onlyA, ""), failOnSkip: true, want: 1, says: "2 tests skipped (a failure under CI: every test must run):\nSKIP\texample.com/tr/a\tTestNeedsPostgres"},
		{name: "a package without a result fails", stream: strings.Join(cut, ""), want: 1, says: "FAIL\texample.com/tr/a\t(no result"},
		{name: "a line that is not JSON is printed", stream: "go: downloading x\n", want: 0, says: "go: downloading x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if got := run(strings.NewReader(tc.stream), &out, tc.failOnSkip); got != tc.want {
				t.Errorf("exit code %d, want %d; output:\n%s", got, tc.want, out.String())
			}
			if !strings.Contains(out.String(), tc.says) {
				t.Errorf("output lacks %q:\n%s", tc.says, out.String())
			}
		})
	}
}
