#!/usr/bin/env bash
# Builds the instance image sproudchat/app:<version> FROM scratch: the static sproudchat
# binary, CA certificates, a passwd entry for the non-root user 65532, and /data owned by
# it (a named volume mounted there starts with that owner). Nothing is pulled.
#
# usage: scripts/build-images.sh [version]   (default: git describe, else "dev")
# Prints the image tag as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:-${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}}"
tag="sproudchat/app:$version"
certs=/etc/ssl/certs/ca-certificates.crt
if [ ! -s "$certs" ]; then
	echo "build-images: $certs is missing; install Debian's ca-certificates package" >&2
	exit 1
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
(cd instance && CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X github.com/sproudstack/sproudchat/instance/internal/app.Version=$version" \
	-o "$ctx/sproudchat" ./cmd/sproudchat)
cp "$certs" "$ctx/ca-certificates.crt"
mkdir -p "$ctx/data" "$ctx/tmp"
printf 'root:x:0:0:root:/:/sbin/nologin\nsproudchat:x:65532:65532:sproudchat:/data:/sbin/nologin\n' >"$ctx/passwd"
printf 'root:x:0:\nsproudchat:x:65532:\n' >"$ctx/group"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY passwd group /etc/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --chown=65532:65532 data /data
COPY --chown=65532:65532 tmp /tmp
COPY sproudchat /usr/local/bin/sproudchat
USER 65532:65532
ENV SPROUDCHAT_DATA_DIR=/data SPROUDCHAT_LISTEN_ADDR=:8080
EXPOSE 8080
LABEL org.opencontainers.image.title=sproudchat org.opencontainers.image.version=$version org.opencontainers.image.licenses=Apache-2.0
ENTRYPOINT ["/usr/local/bin/sproudchat"]
CMD ["serve"]
DOCKERFILE
# The engine here may lack BuildKit; the classic builder needs nothing pulled for scratch.
DOCKER_BUILDKIT=0 docker build --quiet --tag "$tag" "$ctx" >/dev/null 2>"$ctx/build.log" || { cat "$ctx/build.log" >&2; exit 1; }
echo "$tag"
