package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sproudstack/sproudchat/instance/internal/store"
	"github.com/sproudstack/sproudchat/instance/internal/store/storetest"
)

// TestBinaryBackupRestore runs the real binary as the control plane does: `sproudchat
// backup --to -` against a serving instance, piped into `sproudchat restore --from -`
// on another data dir, which then starts with the data there through the API.
func TestBinaryBackupRestore(t *testing.T) {
	bin := binary(t)
	storetest.EachDialect(t, func(t *testing.T, d store.Dialect) {
		setupToken := "e2e-setup-token-0123456789abcdef"
		password := "e2e admin password"
		envOf := func() []string {
			env := []string{"SPROUDCHAT_DATA_DIR=" + filepath.Join(t.TempDir(), "data")}
			if d == store.Postgres {
				env = append(env, "SPROUDCHAT_DATABASE_URL="+storetest.MustPostgresDatabase(t))
			}
			return env
		}
		srcEnv, dstEnv := envOf(), envOf()
		withKey := func(env []string) []string {
			return append(env[:len(env):len(env)], "SPROUDCHAT_SECRET_KEY="+testKey, "SPROUDCHAT_SETUP_TOKEN="+setupToken)
		}

		src := start(t, withKey(srcEnv), bin)
		c := newClient(t, src.base)
		c.Setup(setupToken, "Ada", "ada@example.org", password)
		c.Login("ada@example.org", password)
		tk := c.Must("POST", "/api/v1/tickets", map[string]string{"subject": "Refund for March", "requester_email": "rita@example.org", "body": "Please."}, 201)
		token := c.Must("POST", "/api/v1/tokens", map[string]string{"name": "e2e"}, 201)["token"].(string)
		body := []byte("the invoice, as a file")
		att := upload(t, src.base, token, fmt.Sprintf("/api/v1/tickets/%v/attachments", tk["id"]), body)

		// The snapshot is taken while the source serves.
		backup := exec.Command(bin, "backup", "--to", "-")
		backup.Env = append([]string{"PATH=" + os.Getenv("PATH")}, srcEnv...)
		restore := exec.Command(bin, "restore", "--from", "-")
		restore.Env = append([]string{"PATH=" + os.Getenv("PATH")}, dstEnv...)
		pipe, err := backup.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		restore.Stdin = pipe
		var backupErr, restoreOut, restoreErr bytes.Buffer
		backup.Stderr, restore.Stdout, restore.Stderr = &backupErr, &restoreOut, &restoreErr
		if err := backup.Start(); err != nil {
			t.Fatal(err)
		}
		if err := restore.Run(); err != nil {
			t.Fatalf("restore: %v\n%s", err, restoreErr.String())
		}
		if err := backup.Wait(); err != nil {
			t.Fatalf("backup: %v\n%s", err, backupErr.String())
		}
		var res struct{ Tables, Rows, Blobs, Bytes int64 }
		if err := json.Unmarshal(restoreOut.Bytes(), &res); err != nil || res.Blobs != 1 || res.Rows == 0 {
			t.Fatalf("restore printed %q: %v", restoreOut.String(), err)
		}
		src.stop(t)

		dst := start(t, withKey(dstEnv), bin)
		c = newClient(t, dst.base)
		c.Login("ada@example.org", password)
		got := c.Must("GET", fmt.Sprintf("/api/v1/tickets/%v", tk["id"]), nil, 200)
		if got["subject"] != "Refund for March" {
			t.Fatalf("restored ticket: %v", got)
		}
		if b := download(t, dst.base, token, fmt.Sprintf("/api/v1/attachments/%v", att["id"])); !bytes.Equal(b, body) {
			t.Fatalf("restored attachment: %q", b)
		}
		commit := exec.Command(bin, "restore", "--commit")
		commit.Env = append([]string{"PATH=" + os.Getenv("PATH")}, dstEnv...)
		if out, err := commit.Output(); err != nil || string(out) != "{\"committed\":true}\n" {
			t.Fatalf("commit: %v %q", err, out)
		}
		dst.stop(t)
	})
}

// upload sends body as a multipart file with an API token and returns the answer.
func upload(t *testing.T, base, token, path string, body []byte) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "invoice.txt")
	fw.Write(body)
	mw.Close()
	req, _ := http.NewRequest("POST", base+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode != 201 {
		t.Fatalf("upload: %d %v", res.StatusCode, out)
	}
	return out
}

func download(t *testing.T, base, token, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("download %s: %d %s", path, res.StatusCode, b)
	}
	return b
}
