package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json), including the build events the
// go command adds.
type event struct {
	Action     string
	Package    string
	Test       string
	Elapsed    float64
	Output     string
	ImportPath string
}

// Skip is a test that reported SKIP, with the lines it logged (its reason).
type Skip struct {
	Package, Test string
	Output        []string
}

// Report is what the stream said once it ended.
type Report struct {
	Passes, Failures int // tests, subtests included
	Skips            []Skip
	FailedPackages   []string
	// Unfinished are packages that started but never reported pass, fail or skip (the
	// go command was killed, or the stream was cut).
	Unfinished []string
}

type key struct{ pkg, test string }

// Read consumes the stream, printing progress to w as packages finish: "ok" lines,
// the output of failed tests and packages, and build failures. Lines that are not
// JSON (the go command's own messages) are printed as they are.
func Read(r io.Reader, w io.Writer) (*Report, error) {
	rep := &Report{}
	output := map[key][]string{}
	started := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "build-output":
			fmt.Fprint(w, e.Output)
		case "start":
			started[e.Package] = true
		case "run", "pause", "cont":
		case "output":
			if !noise(e.Output) {
				output[k] = append(output[k], strings.TrimRight(e.Output, "\n"))
			}
		case "pass":
			if e.Test == "" {
				delete(started, e.Package)
				fmt.Fprintf(w, "ok  \t%s\t%s\n", e.Package, elapsed(e.Elapsed))
			} else {
				rep.Passes++
			}
			delete(output, k)
		case "skip":
			if e.Test == "" { // no test files, or every test filtered out
				delete(started, e.Package)
			} else {
				rep.Skips = append(rep.Skips, Skip{Package: e.Package, Test: e.Test, Output: reason(output[k])})
			}
			delete(output, k)
		case "fail":
			if e.Test == "" {
				delete(started, e.Package)
				rep.FailedPackages = append(rep.FailedPackages, e.Package)
				printLines(w, output[k])
				fmt.Fprintf(w, "FAIL\t%s\t%s\n", e.Package, elapsed(e.Elapsed))
			} else {
				rep.Failures++
				printLines(w, output[k])
			}
			delete(output, k)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read test events: %w", err)
	}
	for pkg := range started {
		rep.Unfinished = append(rep.Unfinished, pkg)
	}
	slices.Sort(rep.Unfinished)
	return rep, nil
}

// Failed says whether the run failed.
func (rep *Report) Failed(failOnSkip bool) bool {
	return rep.Failures > 0 || len(rep.FailedPackages) > 0 || len(rep.Unfinished) > 0 || failOnSkip && len(rep.Skips) > 0
}

// Summary prints the skipped tests and the totals.
func (rep *Report) Summary(w io.Writer, failOnSkip bool) {
	if len(rep.Skips) > 0 {
		what := "skipped"
		if failOnSkip {
			what = "skipped (a failure under CI: every test must run)"
		}
		fmt.Fprintf(w, "\n%s %s:\n", plural(len(rep.Skips), "test"), what)
		for _, s := range rep.Skips {
			fmt.Fprintf(w, "SKIP\t%s\t%s\n", s.Package, s.Test)
			for _, l := range s.Output {
				fmt.Fprintf(w, "\t%s\n", l)
			}
		}
	}
	for _, pkg := range rep.Unfinished {
		fmt.Fprintf(w, "FAIL\t%s\t(no result: the test binary did not finish)\n", pkg)
	}
	fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped", rep.Passes, rep.Failures, len(rep.Skips))
	if n := len(rep.FailedPackages); n > 0 {
		fmt.Fprintf(w, "; failed packages: %s", strings.Join(rep.FailedPackages, " "))
	}
	fmt.Fprintln(w)
}

// noise: the framing lines go test -v adds around every test, and the result lines a
// package prints at its end (Read prints its own).
func noise(out string) bool {
	if out == "PASS\n" || out == "FAIL\n" {
		return true
	}
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "ok  \t", "FAIL\t"} {
		if strings.HasPrefix(out, p) {
			return true
		}
	}
	return false
}

// reason keeps what a skipped test logged, without its "--- SKIP" line.
func reason(lines []string) []string {
	var out []string
	for _, l := range lines {
		if !strings.HasPrefix(strings.TrimSpace(l), "--- SKIP") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func printLines(w io.Writer, lines []string) {
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

func elapsed(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(10 * time.Millisecond).String()
}
