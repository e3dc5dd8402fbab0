#!/usr/bin/env bash
# Development stand-in for berth: runs the CNCF reference registry
# (Debian package docker-registry, distribution 2.8.2) behind berth's
# command line, so the e2e scripts can be exercised before berth exists:
#
#   bash tests/e2e/small_image.sh tests/e2e/reference-registry.sh
#
# Usage: reference-registry.sh serve --listen HOST:PORT --data DIR [--htpasswd FILE]
#        [--token-realm URL --token-cert FILE]
# (--htpasswd: Basic authentication with the bcrypt entries of FILE, as an upstream the tests
# log in to; --token-realm: the Docker token flow, tokens from the server at URL
# (tests/e2e/token_server.py, issuer "berth-test-tokens", service "reference-registry") whose
# signing certificate is FILE.) Exits 0 on SIGTERM, like berth must.
set -euo pipefail

# `admin` (the set-up lib.sh does): the reference registry has no authentication, so any
# password works; answer with the JSON berth prints.
if [[ "${1:-}" == admin ]]; then
  case "${2:-} ${3:-}" in
    "update "*) echo '{"name":"default","adminUserEnabled":true,"anonymousPullEnabled":false}' ;;
    "credential renew") echo '{"username":"default","passwords":[{"name":"password","value":"unused"},{"name":"password2","value":null}]}' ;;
    *) echo "reference-registry.sh: admin $2 ${3:-} is not supported" >&2; exit 2 ;;
  esac
  exit 0
fi

listen="" data="" htpasswd="" token_realm="" token_cert=""
[[ "${1:-}" == serve ]] || { echo "usage: $0 serve --listen HOST:PORT --data DIR | admin ..." >&2; exit 2; }
shift
while (($#)); do
  case "$1" in
    --listen) listen="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --htpasswd) htpasswd="$2"; shift 2 ;;
    --token-realm) token_realm="$2"; shift 2 ;;
    --token-cert) token_cert="$2"; shift 2 ;;
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
if [[ -n "$htpasswd" ]]; then
  cat >>"$data/config.yml" <<EOF
auth:
  htpasswd:
    realm: reference-registry
    path: $htpasswd
EOF
fi

if [[ -n "$token_realm" ]]; then
  cat >>"$data/config.yml" <<EOF
auth:
  token:
    realm: $token_realm
    service: reference-registry
    issuer: berth-test-tokens
    rootcertbundle: $token_cert
EOF
fi

# The registry reads REGISTRY_* variables as settings: the clients' (REGISTRY_AUTH_FILE of
# skopeo and podman) would become its `auth`.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^REGISTRY_' || true)
"${DOCKER_REGISTRY_BIN:-/usr/bin/docker-registry}" serve "$data/config.yml" &
child=$!
stop() { kill -TERM "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; exit 0; }
trap stop TERM INT
wait "$child"
