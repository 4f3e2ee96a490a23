#!/usr/bin/env bash
# Runs one sproudchat instance on embedded defaults: SQLite under ./data, listening on
# 127.0.0.1:8080, a secret key generated once into ./data/.secret-key. Prints the URL and,
# while no admin exists, the setup link. Every SPROUDCHAT_* variable may override.
set -euo pipefail
cd "$(dirname "$0")/.."

export SPROUDCHAT_DATA_DIR="${SPROUDCHAT_DATA_DIR:-$PWD/data}"
export SPROUDCHAT_LISTEN_ADDR="${SPROUDCHAT_LISTEN_ADDR:-127.0.0.1:8080}"
mkdir -p "$SPROUDCHAT_DATA_DIR"
chmod 700 "$SPROUDCHAT_DATA_DIR"

if [ -z "${SPROUDCHAT_SECRET_KEY:-}" ] && [ -z "${SPROUDCHAT_SECRET_KEY_FILE:-}" ]; then
	key_file="$SPROUDCHAT_DATA_DIR/.secret-key"
	if [ ! -s "$key_file" ]; then
		(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$key_file")
	fi
	export SPROUDCHAT_SECRET_KEY_FILE="$key_file"
fi

exec "${SPROUDCHAT_BINARY:-bin/sproudchat}" serve
