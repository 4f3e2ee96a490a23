// Command stdintool stands in for the sproudchat binary in tool tests that need what no
// sproudchat command does yet (or ever): "cat" copies standard input to standard
// output, "env" prints its environment, "wait" reads standard input to its end and
// exits, "exit N" exits with code N.
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: stdintool cat|env|wait|exit N")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "cat":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
	case "wait":
		io.Copy(io.Discard, os.Stdin)
	case "exit":
		code, _ := strconv.Atoi(os.Args[2])
		fmt.Fprintf(os.Stderr, "exiting with %d\n", code)
		os.Exit(code)
	default:
		fmt.Fprintf(os.Stderr, "stdintool: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}
