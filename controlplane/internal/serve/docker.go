package serve

import (
	"log/slog"
	"path/filepath"

	"github.com/sproudstack/sproudchat/controlplane/internal/secret"
	"github.com/sproudstack/sproudchat/provisioning/docker"
)

// runtimeOwner is the id this control plane's runtime objects carry (the Docker
// io.sproudchat.owner label), derived from its secret key: replicas sharing a store
// share the key and so the id, and another control plane on the same engine has
// another, so neither lists nor collects the other's instances.
func runtimeOwner(key []byte) string { return "cp-" + secret.Derive(key, "sproudchat runtime owner") }

// newDocker is the Docker runtime of this control plane: its objects carry
// runtimeOwner; its instances' secret files live under the data dir (0700), which
// outlives a reboot, so the restart policy can start the apps again.
func newDocker(cfg Config, log *slog.Logger) (*docker.Runtime, error) {
	key := cfg.SecretKey
	if key == nil {
		var err error
		if key, err = secret.LoadOrCreateKey(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	return docker.New(docker.Options{Logger: log, Owner: runtimeOwner(key), SecretsDir: filepath.Join(cfg.DataDir, "secrets")})
}
