package backup

import (
	"context"
	"errors"

	"github.com/sproudstack/sproudchat/platform/snapshot"
)

func dumpPostgres(ctx context.Context, o Options, dst string) (int64, map[string]int64, error) {
	return 0, nil, errors.New("TODO")
}

func checkDump(ctx context.Context, o Options, h snapshot.Header, path string) error {
	return errors.New("TODO")
}

func (o Options) swapPostgres(ctx context.Context, h snapshot.Header, stage string) error {
	return errors.New("TODO")
}

func pgRestore(ctx context.Context, o Options, path string) error { return errors.New("TODO") }
