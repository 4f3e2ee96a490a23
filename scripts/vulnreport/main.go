// Command vulnreport reads the `govulncheck -format json` output of one or more modules
// on stdin and fails if any of them calls a known vulnerability that is not accepted in
// the file named by -accept. Vulnerabilities in modules that are only required or
// imported, never called, are counted but do not fail the run, as in govulncheck's own
// text mode. An accepted vulnerability that no module calls any more fails the run too,
// so that the list only holds what still applies.
//
//	for m in instance controlplane; do (cd $m && govulncheck -format json ./...); done |
//		go run ./scripts/vulnreport -accept scripts/vulncheck-accepted.txt
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	acceptFile := flag.String("accept", "", "file of accepted vulnerabilities: one `ID reason` a line, # comments")
	flag.Parse()
	os.Exit(run(os.Stdin, os.Stdout, *acceptFile))
}

func run(r io.Reader, w io.Writer, acceptFile string) int {
	accepted := map[string]string{}
	if acceptFile != "" {
		f, err := os.Open(acceptFile)
		if err != nil {
			fmt.Fprintf(w, "vulnreport: %v\n", err)
			return 2
		}
		accepted, err = ReadAccepted(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(w, "vulnreport: %s: %v\n", acceptFile, err)
			return 2
		}
	}
	rep, err := Read(r)
	if err != nil {
		fmt.Fprintf(w, "vulnreport: %v\n", err)
		return 2
	}
	if !rep.Print(w, accepted) {
		return 1
	}
	return 0
}
