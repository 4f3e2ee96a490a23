package runtimetest

// What the runtime tests deploy: the sproudchat binary and its image, built once per
// test process from the working tree.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Root is the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var (
	binOnce, imgOnce sync.Once
	binPath, imgTag  string
	binErr, imgErr   error
)

// Binary returns a static sproudchat binary: $SPROUDCHAT_BINARY (make test builds it),
// else one built now.
func Binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if b := os.Getenv("SPROUDCHAT_BINARY"); b != "" {
			binPath = b
			return
		}
		dir, err := os.MkdirTemp("", "sproudchat-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "sproudchat")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/sproudchat")
		cmd.Dir = filepath.Join(Root(), "instance")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = &buildError{"go build sproudchat", err, string(out)}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// Image builds sproudchat/app:test from the working tree with scripts/build-images.sh
// and returns its tag. It needs a Docker engine: RequireDocker first.
func Image(t *testing.T) string {
	t.Helper()
	imgOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(Root(), "scripts", "build-images.sh"), "test")
		out, err := cmd.Output()
		if err != nil {
			stderr := ""
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			imgErr = &buildError{"build-images.sh", err, stderr}
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		imgTag = lines[len(lines)-1]
	})
	if imgErr != nil {
		t.Fatal(imgErr)
	}
	return imgTag
}

// RequireDocker skips the test when no engine answers, and fails it under CI=true.
func RequireDocker(t *testing.T, ping func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ping(ctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Docker engine answers (%v); CI must run the Docker tests", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
}

type buildError struct {
	what string
	err  error
	out  string
}

func (e *buildError) Error() string { return e.what + ": " + e.err.Error() + "\n" + e.out }

var (
	stdinOnce, stdinImgOnce sync.Once
	stdinPath, stdinImg     string
	stdinErr, stdinImgErr   error
)

// StdinTool returns a static binary that stands in for sproudchat where a tool test
// needs what sproudchat does not do: `cat` (stdin to stdout), `env` (prints its
// environment), `wait` (reads stdin to its end), `exit N`.
func StdinTool(t *testing.T) string {
	t.Helper()
	stdinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sproudchat-stdintool-")
		if err != nil {
			stdinErr = err
			return
		}
		stdinPath = filepath.Join(dir, "stdintool")
		cmd := exec.Command("go", "build", "-o", stdinPath, "./runtimetest/testdata/stdintool")
		cmd.Dir = filepath.Join(Root(), "provisioning")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			stdinErr = &buildError{"go build stdintool", err, string(out)}
		}
	})
	if stdinErr != nil {
		t.Fatal(stdinErr)
	}
	return stdinPath
}

// StdinToolImage builds sproudchat/stdintool:test, StdinTool as the ENTRYPOINT of an
// image FROM scratch run as the app's user, and returns its tag. It needs a Docker
// engine: RequireDocker first.
func StdinToolImage(t *testing.T) string {
	t.Helper()
	bin := StdinTool(t)
	stdinImgOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sproudchat-stdintool-image-")
		if err != nil {
			stdinImgErr = err
			return
		}
		defer os.RemoveAll(dir)
		b, err := os.ReadFile(bin)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "stdintool"), b, 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY stdintool /stdintool\nUSER 65532:65532\nENTRYPOINT [\"/stdintool\"]\n"), 0o644)
		}
		if err != nil {
			stdinImgErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "docker", "build", "-q", "-t", "sproudchat/stdintool:test", dir)
		cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			stdinImgErr = &buildError{"build stdintool image", err, string(out)}
			return
		}
		stdinImg = "sproudchat/stdintool:test"
	})
	if stdinImgErr != nil {
		t.Fatal(stdinImgErr)
	}
	return stdinImg
}
