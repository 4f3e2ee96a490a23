#!/usr/bin/env bash
# Runs the sproudchat control plane on embedded defaults: SQLite under ./data/controlplane,
# the API on 127.0.0.1:8090, customers' instances at http://<slug>.localhost:8080. Uses
# Docker when an engine answers (building the app image first), else local processes.
# Creates an admin token once and prints it with a ready-to-paste create command.
set -euo pipefail
cd "$(dirname "$0")/.."

ctl="${SPROUDCTL_BINARY:-bin/sproudctl}"
app="${SPROUDCHAT_BINARY:-bin/sproudchat}"
version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
export SPROUDCTL_DATA_DIR="${SPROUDCTL_DATA_DIR:-$PWD/data/controlplane}"
export SPROUDCTL_API_ADDR="${SPROUDCTL_API_ADDR:-127.0.0.1:8090}"
export SPROUDCTL_EDGE_ADDR="${SPROUDCTL_EDGE_ADDR:-127.0.0.1:8080}"
export SPROUDCTL_TEMPLATES="${SPROUDCTL_TEMPLATES:-$PWD/templates}"

if [ -z "${SPROUDCTL_RUNTIME:-}" ]; then
	if docker info >/dev/null 2>&1; then
		echo "Docker answers: building the instance image sproudchat/app:$version …" >&2
		bash scripts/build-images.sh "$version" >/dev/null
		export SPROUDCTL_RUNTIME=docker
	else
		export SPROUDCTL_RUNTIME=process
	fi
fi

token_file="$SPROUDCTL_DATA_DIR/.admin-token"
if [ ! -s "$token_file" ]; then
	mkdir -p "$SPROUDCTL_DATA_DIR" && chmod 700 "$SPROUDCTL_DATA_DIR"
	(umask 077 && "$ctl" token create --name local-admin --scopes admin --data-dir "$SPROUDCTL_DATA_DIR" -o json |
		sed -n 's/.*"token": "\(spt_[0-9a-f]*\)".*/\1/p' >"$token_file")
fi
token=$(cat "$token_file")
edge_port="${SPROUDCTL_EDGE_ADDR##*:}"

cat >&2 <<MSG

sproudctl is starting (runtime: $SPROUDCTL_RUNTIME)
  API:        http://$SPROUDCTL_API_ADDR
  instances:  http://<slug>.localhost:$edge_port

In another terminal:
  export SPROUDCTL_SERVER=http://$SPROUDCTL_API_ADDR SPROUDCTL_TOKEN=$token
  $ctl instance create --customer demo --slug demo --admin-email you@example.org --wait

MSG
exec "$ctl" serve --instance-binary "$app" --app-version "$version"
