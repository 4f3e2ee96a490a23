// Command testreport reads `go test -json` on stdin and prints what a person needs: one
// line per package, the output of every failed test, and every skipped test with its
// reason. It exits non-zero if a test or package failed, if the stream shows no result
// for a package it started, or — with -fail-on-skip, the default when CI=true — if any
// test skipped: under CI every service a test needs is there, so a skip means a test did
// not run.
//
//	go test -json ./... | go run ./scripts/testreport
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	failOnSkip := flag.Bool("fail-on-skip", os.Getenv("CI") == "true", "count a skipped test as a failure (default: CI=true)")
	flag.Parse()
	os.Exit(run(os.Stdin, os.Stdout, *failOnSkip))
}

// run reports the stream from r on w and returns the exit code.
func run(r io.Reader, w io.Writer, failOnSkip bool) int {
	rep, err := Read(r, w)
	if err != nil {
		fmt.Fprintf(w, "testreport: %v\n", err)
		return 2
	}
	rep.Summary(w, failOnSkip)
	if rep.Failed(failOnSkip) {
		return 1
	}
	return 0
}
