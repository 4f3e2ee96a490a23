#!/usr/bin/env bash
# Makes sure the services the test suite needs are installed and running, then prints
# the environment the tests read, as `export NAME=value` lines for `eval`.
#
# Idempotent: safe on a fresh Debian machine (installs from Debian's packages when run as
# root) and on one where everything already runs. Diagnostics go to stderr so that
# stdout stays eval-able.
set -euo pipefail

log() { printf 'test-services: %s\n' "$*" >&2; }

apt_updated=""
apt_install() {
	if [ "$(id -u)" != 0 ]; then
		log "need root to install $*; install them by hand or run as root"
		return 1
	fi
	if [ -z "$apt_updated" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

ensure_postgres() {
	if [ -n "${SPROUDCHAT_TEST_POSTGRES_URL:-}" ]; then
		log "using SPROUDCHAT_TEST_POSTGRES_URL from the environment"
		return 0
	fi
	if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
		log "installing PostgreSQL from Debian's packages"
		apt_install postgresql
	fi
	local ver
	ver=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
	if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -q "^$ver main$"; then
		pg_createcluster "$ver" main >&2
	fi
	if ! pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $4}' | grep -q online; then
		pg_ctlcluster "$ver" main start >&2
	fi
	local port
	port=$(pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $3}')
	# The test role may create and drop databases: every test gets its own.
	su postgres -c "psql -q -p $port -tAc \"SELECT 1 FROM pg_roles WHERE rolname='sproudtest'\"" | grep -q 1 ||
		su postgres -c "psql -q -p $port -c \"CREATE ROLE sproudtest LOGIN CREATEDB PASSWORD 'sproudtest'\"" >&2
	su postgres -c "psql -q -p $port -tAc \"SELECT 1 FROM pg_database WHERE datname='sproudtest'\"" | grep -q 1 ||
		su postgres -c "psql -q -p $port -c \"CREATE DATABASE sproudtest OWNER sproudtest\"" >&2
	echo "export SPROUDCHAT_TEST_POSTGRES_URL=postgres://sproudtest:sproudtest@127.0.0.1:$port/sproudtest?sslmode=disable"
}

ensure_postgres
