package runtimetest

import (
	"context"
	"errors"
	"testing"

	"github.com/sproudstack/sproudchat/provisioning"
)

// The fake passes the suite where it can: everything but what needs the real app.
func TestFakeConformance(t *testing.T) {
	shared := NewFake()
	Run(t, func(t *testing.T, afterStep func(string)) Harness {
		f := shared.WithAfterStep(afterStep)
		return Harness{Runtime: f, Image: "fake", Leftovers: f.Leftovers, Steps: []string{"created"}}
	})
}

func TestFakeInjectsErrors(t *testing.T) {
	f := NewFake()
	boom := errors.New("engine down")
	f.ApplyErr = boom
	id, slug := Unique("err")
	if _, err := f.Apply(context.Background(), Spec(Harness{Image: "x"}, id, slug)); !errors.Is(err, boom) {
		t.Fatalf("Apply: %v", err)
	}
	if f.Calls("Apply") != 1 {
		t.Fatalf("Apply called %d times", f.Calls("Apply"))
	}
	if _, err := f.Status(context.Background(), id); !errors.Is(err, provisioning.ErrNotFound) {
		t.Fatalf("Status after a failed apply: %v", err)
	}
}
