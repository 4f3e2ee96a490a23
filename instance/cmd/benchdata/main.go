// Command benchdata fills an instance's data dir for benchmarks that need a large one
// (the backup benchmark): n tickets with their first message and a tag, and attachments
// of random bytes up to a total. With -add-ticket it adds one ticket to an existing data
// dir instead: the day's change between two backups. Not a benchmark itself.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sproudstack/sproudchat/instance/internal/benchseed"
	"github.com/sproudstack/sproudchat/instance/internal/store"
)

func main() {
	dir := flag.String("dir", "", "the data dir to fill (SQLite)")
	tickets := flag.Int("tickets", 100_000, "tickets to seed")
	attBytes := flag.Int64("attachment-bytes", 1<<30, "attachment bytes to store")
	fileSize := flag.Int64("file-size", 1<<20, "bytes per attachment")
	addTicket := flag.String("add-ticket", "", "add one ticket with this subject to an existing data dir, and nothing else")
	flag.Parse()
	if *dir == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: benchdata -dir DIR [-tickets N] [-attachment-bytes N] [-file-size N] | -dir DIR -add-ticket SUBJECT")
		os.Exit(2)
	}
	if err := run(context.Background(), *dir, *tickets, *attBytes, *fileSize, *addTicket); err != nil {
		fmt.Fprintln(os.Stderr, "benchdata:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string, tickets int, attBytes, fileSize int64, addTicket string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	db, err := store.Open(ctx, "", filepath.Join(dir, "sproudchat.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	if addTicket != "" {
		return benchseed.OneTicket(ctx, db, addTicket)
	}
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	if err := benchseed.Helpdesk(ctx, db, tickets, 0); err != nil {
		return err
	}
	files, err := benchseed.Attachments(ctx, db, store.NewBlobs(filepath.Join(dir, "attachments")), attBytes, fileSize)
	if err != nil {
		return err
	}
	fmt.Printf("seeded %s: %d tickets, %d attachments of %d bytes\n", dir, tickets, files, fileSize)
	return nil
}
