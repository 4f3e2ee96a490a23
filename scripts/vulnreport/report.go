package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// message is one value of govulncheck's JSON stream (protocol v1.0.0): exactly one field
// is set.
type message struct {
	Config *struct {
		ScannerVersion string `json:"scanner_version"`
		DB             string `json:"db"`
		GoVersion      string `json:"go_version"`
	} `json:"config"`
	SBOM *struct {
		Roots   []string `json:"roots"`
		Modules []struct {
			Path string `json:"path"`
		} `json:"modules"`
	} `json:"SBOM"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *finding `json:"finding"`
}

type finding struct {
	OSV          string  `json:"osv"`
	FixedVersion string  `json:"fixed_version"`
	Trace        []frame `json:"trace"`
}

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
	} `json:"position"`
}

// Vuln is one vulnerability a scanned module calls.
type Vuln struct {
	ID, Summary string
	Found       string // module@version of the vulnerable code
	Fixed       string // version that fixes it; empty if none does
	// CalledFrom lists, for each scanned module that calls it, one place in its code
	// that reaches it.
	CalledFrom []string
}

// Report is what the scans found.
type Report struct {
	Scans     []string // "module (go version, db)"
	Called    []*Vuln  // sorted by ID
	NotCalled []string // IDs in required or imported code only
}

// Read consumes the concatenated JSON streams of any number of govulncheck runs.
func Read(r io.Reader) (*Report, error) {
	rep := &Report{}
	summaries := map[string]string{}
	called := map[string]*Vuln{}
	notCalled := map[string]bool{}
	traced := map[string]bool{}
	module, config := "", ""
	dec := json.NewDecoder(r)
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("read govulncheck output: %w", err)
		}
		switch {
		case m.Config != nil:
			config = fmt.Sprintf("govulncheck %s, %s, db %s", m.Config.ScannerVersion, m.Config.GoVersion, m.Config.DB)
		case m.SBOM != nil:
			module = ""
			if len(m.SBOM.Modules) > 0 {
				module = m.SBOM.Modules[0].Path
			}
			rep.Scans = append(rep.Scans, fmt.Sprintf("%s (%s)", module, config))
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			f := m.Finding
			if f.Trace[0].Function == "" {
				notCalled[f.OSV] = true
				continue
			}
			v := called[f.OSV]
			if v == nil {
				v = &Vuln{ID: f.OSV, Found: f.Trace[0].Module + "@" + f.Trace[0].Version, Fixed: f.FixedVersion}
				if f.Trace[0].Module == "stdlib" {
					v.Found = "stdlib@" + f.Trace[0].Version
				}
				called[f.OSV] = v
			}
			if k := f.OSV + " " + module; !traced[k] { // one example per scanned module
				traced[k] = true
				v.CalledFrom = append(v.CalledFrom, callSite(f.Trace))
			}
		}
	}
	for id, v := range called {
		v.Summary = summaries[id]
		rep.Called = append(rep.Called, v)
		delete(notCalled, id)
	}
	slices.SortFunc(rep.Called, func(a, b *Vuln) int { return strings.Compare(a.ID, b.ID) })
	for id := range notCalled {
		rep.NotCalled = append(rep.NotCalled, id)
	}
	slices.Sort(rep.NotCalled)
	return rep, nil
}

// callSite names the last frame of the trace: the place in our code where the path to
// the vulnerable function starts.
func callSite(trace []frame) string {
	f := trace[len(trace)-1]
	name := f.Package + "." + f.Function
	if f.Receiver != "" {
		name = f.Package + ".(" + f.Receiver + ")." + f.Function
	}
	if f.Position != nil {
		name += fmt.Sprintf(" (%s:%d)", f.Position.Filename, f.Position.Line)
	}
	return name
}

// Print writes the report and says whether it passes: nothing called that is not
// accepted, and nothing accepted that is not called.
func (rep *Report) Print(w io.Writer, accepted map[string]string) bool {
	for _, s := range rep.Scans {
		fmt.Fprintf(w, "scanned %s\n", s)
	}
	ok := true
	seen := map[string]bool{}
	for _, v := range rep.Called {
		seen[v.ID] = true
		fixed := "no fixed version"
		if v.Fixed != "" {
			fixed = "fixed in " + v.Fixed
		}
		why, found := accepted[v.ID]
		verdict := "VULNERABLE"
		if found {
			verdict = "ACCEPTED"
		} else {
			ok = false
		}
		fmt.Fprintf(w, "\n%s %s: %s\n\tfound in %s, %s\n", verdict, v.ID, v.Summary, v.Found, fixed)
		if found {
			fmt.Fprintf(w, "\taccepted: %s\n", why)
		}
		for _, from := range v.CalledFrom {
			fmt.Fprintf(w, "\tcalled from %s\n", from)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(accepted)) {
		if !seen[id] {
			ok = false
			fmt.Fprintf(w, "\nSTALE %s is accepted but no module calls it any more: remove it from the list\n", id)
		}
	}
	fmt.Fprintf(w, "\n%d vulnerabilities called; %d more only in required or imported code that is never called\n",
		len(rep.Called), len(rep.NotCalled))
	return ok
}

// ReadAccepted parses the accepted list: "ID reason" per line; blank lines and lines
// starting with # are ignored. Every entry needs a reason.
func ReadAccepted(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, why, _ := strings.Cut(line, " ")
		if strings.TrimSpace(why) == "" {
			return nil, fmt.Errorf("line %d: %s has no reason", n, id)
		}
		out[id] = strings.TrimSpace(why)
	}
	return out, sc.Err()
}
