// Package logbuf is a log sink for tests: a server under test writes its log lines
// from its own goroutines while the test reads them.
package logbuf

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer collects what is written to it; safe for concurrent use. The zero value is
// ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p. It never fails.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Lines counts the complete lines written so far.
func (l *Buffer) Lines() int { return strings.Count(l.String(), "\n") }
