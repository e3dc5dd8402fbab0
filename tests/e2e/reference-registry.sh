#!/usr/bin/env bash
# Development stand-in for berth: runs the CNCF reference registry
# (Debian package docker-registry, distribution 2.8.2) behind berth's
# command line, so the e2e scripts can be exercised before berth exists:
#
#   bash tests/e2e/small_image.sh tests/e2e/reference-registry.sh
#
# Usage: reference-registry.sh serve --listen HOST:PORT --data DIR
# Exits 0 on SIGTERM, like berth must.
set -euo pipefail

listen="" data=""
[[ "${1:-}" == serve ]] || { echo "usage: $0 serve --listen HOST:PORT --data DIR" >&2; exit 2; }
shift
while (($#)); do
  case "$1" in
    --listen) listen="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
[[ -n "$listen" && -n "$data" ]] || { echo "--listen and --data are required" >&2; exit 2; }

mkdir -p "$data"
cat >"$data/config.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: json
storage:
  filesystem:
    rootdirectory: $data/storage
  delete:
    enabled: true
http:
  addr: $listen
validation:
  manifests:
    urls:
      allow: ['^https?://']
EOF

"${DOCKER_REGISTRY_BIN:-/usr/bin/docker-registry}" serve "$data/config.yml" &
child=$!
stop() { kill -TERM "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; exit 0; }
trap stop TERM INT
wait "$child"
