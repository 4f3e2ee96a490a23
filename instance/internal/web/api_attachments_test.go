package web

import (
	"bytes"
	"fmt"
	"io/fs"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/accounts"
)

func upload(c *client, ticketID int64, name string, content []byte) response {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, _ := w.CreateFormFile("file", name)
	part.Write(content)
	w.Close()
	return c.do("POST", fmt.Sprintf("/api/v1/tickets/%d/attachments", ticketID), w.FormDataContentType(), &body, nil)
}

// blobFiles counts the stored bodies (tmp files included: a refused upload must leave none).
func blobFiles(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func TestAttachments(t *testing.T) {
	h := newHarness(t, harnessOptions{}, true) // limits: 64 KiB a file, 160 KiB in all
	agent := h.loggedIn(accounts.RoleAgent)
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), 1000)...)
	res := upload(agent, h.ticket.ID, `..\..\evil"name.pdf`, pdf)
	if res.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", res.status, res.body)
	}
	var att attachmentJSON
	res.decode(t, &att)
	if att.ContentType != "application/pdf" || att.Size != int64(len(pdf)) || att.Filename != "evilname.pdf" {
		t.Fatalf("stored %+v", att)
	}
	dl := agent.get(att.URL)
	if dl.status != 200 || dl.body != string(pdf) || dl.header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(dl.header.Get("Content-Disposition"), "attachment;") || !strings.Contains(dl.header.Get("Content-Disposition"), "evilname.pdf") {
		t.Fatalf("download: %d %v", dl.status, dl.header)
	}
	// HTML is never served as HTML from the instance's origin.
	res = upload(agent, h.ticket.ID, "page.html", []byte("<html><script>alert(1)</script></html>"))
	res.decode(t, &att)
	if dl := agent.get(att.URL); dl.header.Get("Content-Type") != "application/octet-stream" || !strings.Contains(dl.header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("html download headers %v", dl.header)
	}
	// The same content twice is stored once.
	files := blobFiles(t, h.blobDir)
	if res := upload(agent, h.ticket.ID, "copy.pdf", pdf); res.status != 201 || blobFiles(t, h.blobDir) != files {
		t.Fatalf("duplicate upload: %d, files %d → %d", res.status, files, blobFiles(t, h.blobDir))
	}

	before, rows := blobFiles(t, h.blobDir), h.counts()["attachments"]
	if res := upload(agent, h.ticket.ID, "big.bin", bytes.Repeat([]byte{1}, 64<<10+1)); res.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("over the file limit: %d %s", res.status, res.body)
	} else {
		res.problem(t)
	}
	if blobFiles(t, h.blobDir) != before || h.counts()["attachments"] != rows {
		t.Fatal("an upload over the file limit left a file or a row")
	}
	// Fill the quota with files under the limit; the one that would pass it is refused.
	for i := 0; i < 2; i++ {
		if res := upload(agent, h.ticket.ID, "fill.bin", bytes.Repeat([]byte{byte(10 + i)}, 60<<10)); res.status != 201 {
			t.Fatalf("fill %d: %d %s", i, res.status, res.body)
		}
	}
	before, rows = blobFiles(t, h.blobDir), h.counts()["attachments"]
	if res := upload(agent, h.ticket.ID, "over-quota.bin", bytes.Repeat([]byte{99}, 60<<10)); res.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("over the quota: %d %s", res.status, res.body)
	}
	if blobFiles(t, h.blobDir) != before || h.counts()["attachments"] != rows {
		t.Fatal("a refused upload left a file or a row")
	}
	if r := agent.get("/api/v1/attachments/424242"); r.status != 404 {
		t.Fatalf("unknown attachment: %d", r.status)
	}
	if r := upload(agent, 424242, "x.txt", []byte("x")); r.status != 404 {
		t.Fatalf("upload to an unknown ticket: %d", r.status)
	}
	var full struct{ Attachments []attachmentJSON }
	agent.get(fmt.Sprintf("/api/v1/tickets/%d", h.ticket.ID)).decode(t, &full)
	if len(full.Attachments) < 5 {
		t.Fatalf("the ticket lists %d attachments", len(full.Attachments))
	}
}
