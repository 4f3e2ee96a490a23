package worker_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sproudstack/sproudchat/instance/internal/worker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestLoopFinishesTheStepInProgress: a loop stopped while a step runs returns only when
// the step has returned, and the step's context has not ended with the loop's.
func TestLoopFinishesTheStepInProgress(t *testing.T) {
	stop, cancel := context.WithCancel(context.Background())
	inStep, release := make(chan struct{}), make(chan struct{})
	var workErr error
	steps := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		worker.Loop(stop, worker.Options{Every: time.Hour, Grace: time.Hour}, func(work context.Context) {
			steps++
			close(inStep)
			<-release
			workErr = work.Err()
		})
	}()
	<-inStep
	cancel()
	select {
	case <-done:
		t.Fatal("the loop returned while its step was still running")
	default:
	}
	close(release)
	<-done
	if workErr != nil {
		t.Errorf("the step's context ended with the loop's (%v): the item in progress would be cut off", workErr)
	}
	if steps != 1 {
		t.Errorf("%d steps, want 1: a stopped loop takes no new step", steps)
	}
}

// TestFinishing: the work context keeps the stop context's values, outlives it by the
// grace, and with no grace ends with it.
func TestFinishing(t *testing.T) {
	type key struct{}
	t.Run("grace", func(t *testing.T) {
		stop, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
		work, done := worker.Finishing(stop, time.Hour)
		defer done()
		cancel()
		if work.Err() != nil {
			t.Fatalf("work ended with stop: %v", work.Err())
		}
		if work.Value(key{}) != "v" {
			t.Error("work lost stop's values")
		}
		done()
		if work.Err() == nil {
			t.Error("work did not end on cancel")
		}
	})
	t.Run("no grace", func(t *testing.T) {
		stop, cancel := context.WithCancel(context.Background())
		work, done := worker.Finishing(stop, 0)
		defer done()
		cancel()
		<-work.Done() // ends with stop; a hang here fails the test by its timeout
	})
	t.Run("stopped", func(t *testing.T) {
		c := make(chan struct{})
		if worker.Stopped(nil) || worker.Stopped(c) {
			t.Fatal("Stopped before the channel closed")
		}
		close(c)
		if !worker.Stopped(c) {
			t.Fatal("not Stopped after the channel closed")
		}
	})
}
