package docker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sproudstack/sproudchat/provisioning"
)

// secretsTarget is where the app container sees its secret files: one file per
// Spec.Secrets entry, named like the variable, read through <NAME>_FILE. Anything that
// can inspect a container (docker inspect, /proc/<pid>/environ) sees only the paths.
const secretsTarget = "/run/secrets"

// The image's sproudchat user (nonRoot), who must read the secret files.
const appUID, appGID = 65532, 65532

// DefaultSecretsDir is where secret files go on the host: /run/sproudchat when /run is
// a tmpfs, so that they never reach a disk, else fallback. A tmpfs is empty after a
// reboot; the restart policy cannot start an app whose secrets are gone until the next
// Apply writes them again.
func DefaultSecretsDir(fallback string) string {
	if isTmpfs("/run") {
		return "/run/sproudchat"
	}
	return fallback
}

// secretsDir is the instance's directory of secret files. The owner's level keeps
// runtimes of two owners sharing a SecretsDir from removing each other's.
func (r *Runtime) secretsDir(id string) string {
	return filepath.Join(r.opts.SecretsDir, r.opts.Owner, id)
}

// writeSecrets lays out the instance's secrets directory, bind-mounted read-only into
// the app: every secret as a file only the app's user reads, written atomically on
// every Apply (which also repairs a directory lost with a tmpfs), nothing else in it.
// The parents stay 0700, so no other user of the host reaches the files.
func (r *Runtime) writeSecrets(s provisioning.Spec) error {
	for _, d := range []string{r.opts.SecretsDir, filepath.Join(r.opts.SecretsDir, r.opts.Owner)} {
		if err := privateDir(d); err != nil {
			return err
		}
	}
	dir := r.secretsDir(s.ID)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create secrets dir of %s: %w", s.ID, err)
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("secrets dir of %s: %s is not a directory", s.ID, dir)
	}
	// root (as the engine's users usually are) gives the files to the app's user; anyone
	// else makes them world-readable, which the parent's 0700 keeps to this user.
	root := os.Geteuid() == 0
	fileMode, dirMode := os.FileMode(0o444), os.FileMode(0o755)
	if root {
		fileMode, dirMode = 0o400, 0o500
	}
	for name, value := range s.Secrets {
		if err := writeSecret(filepath.Join(dir, name), value, fileMode, root); err != nil {
			return fmt.Errorf("write secret %s of %s: %w", name, s.ID, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read secrets dir of %s: %w", s.ID, err)
	}
	for _, e := range entries {
		if _, ok := s.Secrets[e.Name()]; !ok {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("remove stale secret %s of %s: %w", e.Name(), s.ID, err)
			}
		}
	}
	if root {
		if err := os.Chown(dir, appUID, appGID); err != nil {
			return fmt.Errorf("secrets dir of %s: %w", s.ID, err)
		}
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		return fmt.Errorf("secrets dir of %s: %w", s.ID, err)
	}
	return nil
}

// writeSecret replaces path with a file holding value: written beside it under a
// temporary name, synced, then renamed, so the app never reads half a secret.
func writeSecret(path, value string, mode os.FileMode, chown bool) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && chown {
		err = os.Chown(tmp, appUID, appGID)
	}
	if err == nil {
		err = os.Chmod(tmp, mode)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// privateDir makes dir (and its parents) exist, and checks that dir is a real
// directory of this user, 0700: in a shared place such as /tmp another user could have
// made it first.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create secrets dir: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("secrets dir: %w", err)
	}
	if !fi.IsDir() || !ownedByMe(fi) {
		return fmt.Errorf("secrets dir %s: not a directory of this user", dir)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("secrets dir: %w", err)
	}
	return nil
}

// removeSecrets deletes the instance's secrets directory. Absent is success.
func (r *Runtime) removeSecrets(id string) error {
	if err := os.RemoveAll(r.secretsDir(id)); err != nil {
		return fmt.Errorf("remove secrets of %s: %w", id, err)
	}
	return nil
}

// validID refuses ids that would leave the secrets directory (Destroy takes any string).
func validID(id string) error {
	if id == "" || strings.ContainsAny(id, `/\.`) {
		return fmt.Errorf("%w: instance id %q", provisioning.ErrInvalid, id)
	}
	return nil
}
