// Package layering holds the test that checks which workspace module may import which:
// see layering_test.go.
package layering
