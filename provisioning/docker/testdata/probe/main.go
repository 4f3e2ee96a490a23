// Command probe tries one TCP connection and exits 0 if it opened, 1 if not. The
// isolation tests run it inside an instance's network namespace.
package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	c, err := net.DialTimeout("tcp", os.Args[1], 2*time.Second)
	if err != nil {
		fmt.Println("refused:", err)
		os.Exit(1)
	}
	c.Close()
	fmt.Println("connected")
}
