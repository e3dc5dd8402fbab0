#!/usr/bin/env bash
# The control API's OpenAPI document against the real server: the document it serves is
# src/control/openapi.json byte for byte, and every operation in it reaches a route of the
# server (not 405, not the router's "no such route" 404) and answers a status the document lists.
#
# usage: live_check.sh BERTH_BINARY OPENAPI_JSON
set -euo pipefail
shopt -s inherit_errexit

NAME=openapi.live
BERTH=${1:?usage: live_check.sh BERTH_BINARY OPENAPI_JSON}
SOURCE=${2:?usage: live_check.sh BERTH_BINARY OPENAPI_JSON}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/openapi-live.XXXXXX")
SERVER_PID=""
FAILURES=0

log() { echo "--- [$NAME] $*" >&2; }
fail() { echo "FAIL [$NAME]: $*" >&2; exit 1; }
# problem MSG: a failed check that lets the others run.
problem() {
  echo "FAIL [$NAME]: $*" >&2
  FAILURES=$((FAILURES + 1))
}

cleanup() {
  local rc=$? i
  set +e
  if [[ -n "$SERVER_PID" ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "FAIL [$NAME]: server still running 10s after SIGTERM; killing it" >&2
      kill -KILL -- "-$SERVER_PID"
      rc=1
    fi
    wait "$SERVER_PID" 2>/dev/null
  fi
  if ((rc != 0)) && [[ -s "$TMP/server.log" ]]; then
    echo "--- [$NAME] last lines of server stderr:" >&2
    tail -n 30 "$TMP/server.log" >&2
  fi
  rm -rf "$TMP"
  if ((rc == 0)); then echo "PASS [$NAME]"; else echo "FAILED [$NAME] (exit $rc)" >&2; fi
  exit "$rc"
}
trap cleanup EXIT

[[ -x "$BERTH" ]] || fail "server binary '$BERTH' is not executable"
[[ -r "$SOURCE" ]] || fail "cannot read $SOURCE"

port=$(python3 "$(dirname "$0")/../../tools/free-port")
BASE=http://127.0.0.1:$port
mkdir -p "$TMP/data"
head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$TMP/op"
chmod 600 "$TMP/op"
OP_TOKEN=$(cat "$TMP/op")
AUTH=(-H "Authorization: Bearer $OP_TOKEN")

# Own process group (setsid execs, same pid), so a hung server can be killed with its children.
setsid "$BERTH" serve --listen "127.0.0.1:$port" --data "$TMP/data" --domain test.berth \
  --operator-token-file "$TMP/op" >"$TMP/server.out" 2>"$TMP/server.log" &
SERVER_PID=$!
deadline=$((SECONDS + 15))
until curl -sS --max-time 2 -o /dev/null "$BASE/healthz" 2>/dev/null; do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    status=0
    wait "$SERVER_PID" || status=$?
    SERVER_PID=""
    fail "server exited with status $status before answering"
  fi
  ((SECONDS < deadline)) || fail "server did not answer within 15s"
  sleep 0.1
done

# call METHOD PATH [curl args...]: sets STATUS; body in $TMP/body, headers in $TMP/headers.
call() {
  local method=$1 path=$2
  shift 2
  STATUS=$(curl -sS --max-time 30 -X "$method" -D "$TMP/headers" -o "$TMP/body" -w '%{http_code}' \
    "$@" "$BASE$path") || fail "curl $method $path failed"
}
header() { grep -i "^$1:" "$TMP/headers" | tail -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//' || true; }
# The router's reply for a path it has no route for.
is_no_such_route() {
  [[ "$STATUS" == 404 ]] && jq -e '.error.code == "NOT_FOUND" and
    (.error.message | type == "string" and startswith("no such route"))' "$TMP/body" >/dev/null 2>&1
}
is_error_body() {
  jq -e '(.error.code | type == "string") and (.error.message | type == "string")' \
    "$TMP/body" >/dev/null 2>&1
}

# 1. The document, without credentials: 200, JSON, the source file byte for byte.
call GET /api/v1/openapi.json
[[ "$STATUS" == 200 ]] || fail "GET /api/v1/openapi.json: HTTP $STATUS (want 200): $(head -c 300 "$TMP/body")"
[[ "$(header Content-Type)" == application/json* ]] ||
  problem "GET /api/v1/openapi.json: Content-Type '$(header Content-Type)' (want application/json)"
jq -e . "$TMP/body" >/dev/null || fail "GET /api/v1/openapi.json: not JSON"
cp "$TMP/body" "$TMP/served.json"
cmp -s "$TMP/served.json" "$SOURCE" ||
  problem "GET /api/v1/openapi.json differs from $SOURCE ($(wc -c <"$TMP/served.json") bytes served, $(wc -c <"$SOURCE") in the file)"

# 2. The router answers for what it does not have, so the checks below can fail.
call GET /api/v1/nope "${AUTH[@]}"
is_no_such_route || fail "GET /api/v1/nope: want the no-such-route 404, got HTTP $STATUS: $(head -c 300 "$TMP/body")"
jq -e '.error.message == "no such route: GET /api/v1/nope"' "$TMP/body" >/dev/null ||
  problem "GET /api/v1/nope: message $(jq -c .error.message "$TMP/body") (want \"no such route: GET /api/v1/nope\")"
call PUT /api/v1/registries "${AUTH[@]}" -H 'Content-Type: application/json' --data '{}'
[[ "$STATUS" == 405 ]] || problem "PUT /api/v1/registries: HTTP $STATUS (want 405 METHOD_NOT_ALLOWED)"
is_error_body || problem "PUT /api/v1/registries: the 405 body is not an Error"
call GET /api/v1/registries
[[ "$STATUS" == 401 ]] || problem "GET /api/v1/registries without credentials: HTTP $STATUS (want 401)"

# 3. Every operation of the served document, as the operator, on names that do not exist:
# first in a registry that does not exist, then (for paths below /registries/{registry}/) in one
# that does, so {repository} (with slashes), {tag}, {digest} and {name} get past {registry}.
existing=$(curl -sS --max-time 30 "${AUTH[@]}" "$BASE/api/v1/registries" | jq -r '.[0].name // empty' 2>/dev/null || true)
[[ -n "$existing" ]] || log "no registry listed: the second pass is skipped"

# fill TEMPLATE REGISTRY: the path with its parameters filled in.
fill() {
  local p=$1
  p=${p//\{registry\}/$2}
  p=${p//\{repository\}/no/such/repo}
  p=${p//\{tag\}/nosuchtag}
  p=${p//\{digest\}/sha256:0000000000000000000000000000000000000000000000000000000000000000}
  p=${p//\{name\}/nosuchname}
  p=${p//\{password\}/password1}
  p=${p//\{credential\}/nosuchcredential}
  [[ "$p" != *\{* ]] || fail "$1: a path parameter the check does not know"
  echo "$p"
}

checked=0
while IFS=$'\t' read -r method template; do
  for registry in nosuchregistry $existing; do
    if [[ "$registry" != nosuchregistry && "$template" != */registries/\{registry\}/* ]]; then
      continue  # not the registry routes themselves (DELETE) on a real one
    fi
    path=$(fill "$template" "$registry")
    body=()
    [[ "$method" == POST || "$method" == PATCH ]] && body=(-H 'Content-Type: application/json' --data '{}')
    call "$method" "$path" "${AUTH[@]}" "${body[@]}"
    checked=$((checked + 1))
    what="$method $path ($(jq -r --arg p "$template" --arg m "${method,,}" '.paths[$p][$m].operationId' "$TMP/served.json"))"
    if [[ "$STATUS" == 405 ]]; then
      problem "$what: 405, the server does not serve this method on this path"
    elif is_no_such_route; then
      problem "$what: the server has no such route: $(jq -c . "$TMP/body")"
    elif ! jq -e --arg p "$template" --arg m "${method,,}" --arg s "$STATUS" \
      '.paths[$p][$m].responses | has($s) or has("default")' "$TMP/served.json" >/dev/null; then
      problem "$what: HTTP $STATUS, a status the document does not list: $(head -c 300 "$TMP/body")"
    elif ((STATUS >= 400)) && ! is_error_body; then
      problem "$what: HTTP $STATUS with a body that is not an Error: $(head -c 300 "$TMP/body")"
    fi
  done
done < <(jq -r '.paths | to_entries[] | .key as $p | .value | keys[]
  | select(IN("get", "put", "post", "delete", "patch", "head", "options", "trace"))
  | "\(ascii_upcase)\t\($p)"' "$TMP/served.json")

log "$checked requests checked"
((checked > 0)) || fail "the served document has no operations"
((FAILURES == 0)) || fail "$FAILURES checks failed"
