#!/usr/bin/env bash
# Runs govulncheck over every module against the Go vulnerability database, read from the
# Go module proxy instead of vuln.go.dev (which CI cannot reach): the golang.org/x/vulndb
# module holds every report as OSV JSON under data/osv, and govulncheck reads such a
# directory directly (-db file://…). The module cache is the cache: a version is
# downloaded once. VULNDB_VERSION pins a version; the default is the newest the proxy has.
#
# Fails if a module calls a vulnerability not accepted in scripts/vulncheck-accepted.txt
# (see scripts/vulnreport). Usage: scripts/vulncheck.sh MODULE...
set -euo pipefail
cd "$(dirname "$0")/.."
GOVULNCHECK=golang.org/x/vuln/cmd/govulncheck@v1.9.0

dir=$(go mod download -json "golang.org/x/vulndb@${VULNDB_VERSION:-latest}" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
if [ ! -d "$dir/data/osv" ]; then
	echo "vulncheck: no data/osv in golang.org/x/vulndb (got ${dir:-nothing})" >&2
	exit 1
fi
echo "vulncheck: database golang.org/x/vulndb@${dir##*@} ($(ls "$dir/data/osv" | wc -l) reports), $(go env GOVERSION)" >&2
# Every module is scanned even if one scan fails; the run fails if any did.
{
	rc=0
	for m in "$@"; do
		(cd "$m" && go run "$GOVULNCHECK" -format json -db "file://$dir/data/osv" ./...) || rc=1
	done
	exit $rc
} | (cd scripts && go run ./vulnreport -accept vulncheck-accepted.txt)
