# shellcheck shell=bash
# Helpers for the berth CLI tests: the real `berth` client against a real `berth serve`.
# Source it, then call cli_start "$@" and serve_start [serve flags...].
#
# Builds on tests/e2e/lib.sh for fail/assert_eq/log, free_port, file_digest and the EXIT trap
# that stops the server (SIGTERM, exit 0 required) and shows its log on failure.
#
# Environment: CLI_KEEP=1 keeps the temp dir.
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

DOMAIN=test.berth # --domain of the server (may carry a port)
PORT=""           # the server's port on 127.0.0.1
SERVER=""         # its URL, http:// or https://
OP_TOKEN=""       # the operator token: no output of the client may contain it
CA_FILE=""        # the CA of a TLS server (serve_start --tls)
REG_USER=""       # credentials push_image uses
REG_PASS=""
readonly NULL_USER=00000000-0000-0000-0000-000000000000

# cli_start BERTH_BIN: temp dir, traps, and a home of the test's own: HOME, XDG_CONFIG_HOME,
# XDG_RUNTIME_DIR and DOCKER_CONFIG point into the temp dir, so no user file is touched.
cli_start() {
  BERTH=${1:-${BERTH_BIN:-}}
  [[ -n "$BERTH" ]] || fail "usage: $0 /path/to/berth"
  [[ -x "$BERTH" ]] || fail "berth binary '$BERTH' is not executable"
  BERTH=$(realpath "$BERTH")
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/cli-$TEST_NAME.XXXXXX")
  [[ "${CLI_KEEP:-}" != 1 ]] || export E2E_KEEP=1
  trap _e2e_cleanup EXIT
  set -o errtrace
  trap '_e2e_err "$LINENO" "$BASH_COMMAND"' ERR
  trap 'exit 130' INT
  trap 'exit 143' TERM
  export HOME=$TMP/home
  export XDG_CONFIG_HOME=$TMP/xdg-config
  export XDG_RUNTIME_DIR=$TMP/run
  export DOCKER_CONFIG=$TMP/home/.docker
  unset REGISTRY_AUTH_FILE BERTH_SERVER BERTH_OPERATOR_TOKEN
  mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
  chmod 700 "$XDG_RUNTIME_DIR"
}

# serve_start [--tls] [--tls-host NAME]... [--domain D]: start `berth serve` on a free port with
# a fresh data directory and operator token; "{port}" in D becomes that port. --tls serves HTTPS
# with a development certificate (CA in CA_FILE) that also names each --tls-host.
# shellcheck disable=SC2120
serve_start() {
  local tls=0 args=() hosts=() deadline=$((SECONDS + 15)) scheme=http
  while (($#)); do
    case $1 in
      --tls) tls=1 ;;
      --tls-host) tls=1; hosts+=(--host "$2"); shift ;;
      --domain) DOMAIN=$2; shift ;;
      *) fail "serve_start: unknown argument $1" ;;
    esac
    shift
  done
  PORT=$(free_port)
  DOMAIN=${DOMAIN//\{port\}/$PORT}
  DATA=$TMP/data
  mkdir -p "$DATA"
  OP_TOKEN=$(head -c 32 /dev/urandom | base64 -w0 | tr -d '/+=')
  printf '%s\n' "$OP_TOKEN" >"$TMP/operator-token"
  chmod 600 "$TMP/operator-token"
  if ((tls)); then
    "$BERTH" admin dev-cert --out "$TMP/certs" "${hosts[@]}" >/dev/null
    args+=(--tls-cert "$TMP/certs/server.crt" --tls-key "$TMP/certs/server.key")
    CA_FILE=$TMP/certs/ca.crt
    scheme=https
  fi
  SERVER=$scheme://127.0.0.1:$PORT
  # own process group (setsid execs, same pid), so a hung server can be killed with its children
  setsid "$BERTH" serve --listen "127.0.0.1:$PORT" --data "$DATA" --domain "$DOMAIN" \
    --operator-token-file "$TMP/operator-token" "${args[@]}" >"$TMP/server.out" 2>"$TMP/server.log" &
  SERVER_PID=$!
  while ((SECONDS < deadline)); do
    curl -fsS --max-time 2 -o /dev/null ${CA_FILE:+--cacert "$CA_FILE"} "$SERVER/healthz" 2>/dev/null &&
      return 0
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      local status=0
      wait "$SERVER_PID" || status=$?
      SERVER_PID=""
      fail "server exited with status $status before answering GET /healthz"
    fi
    sleep 0.1
  done
  fail "server did not answer GET $SERVER/healthz within 15s"
}

# configure_client: `berth configure` for the server serve_start started.
configure_client() {
  cli configure --server "$SERVER" --operator-token-file "$TMP/operator-token" \
    ${CA_FILE:+--ca-file "$CA_FILE"} >/dev/null
}

_no_token_in() {
  if [[ -n "$OP_TOKEN" ]] && grep -qF -- "$OP_TOKEN" "$@"; then
    fail "the client printed the operator token"
  fi
}

# cli ARGS...: run the client; its stdout is the function's, its stderr goes to ours. Fails the
# test if either shows the operator token. Returns the client's status.
cli() {
  local rc=0
  "$BERTH" "$@" >"$TMP/cli.out" 2>"$TMP/cli.err" || rc=$?
  _no_token_in "$TMP/cli.out" "$TMP/cli.err"
  cat "$TMP/cli.err" >&2
  cat "$TMP/cli.out"
  return "$rc"
}

# cli_fails PATTERN ARGS...: the client must exit non-zero, print nothing on stdout and exactly
# one line on stderr, matching the extended regex PATTERN.
cli_fails() {
  local pattern=$1 rc=0 err
  shift
  "$BERTH" "$@" >"$TMP/fail.out" 2>"$TMP/fail.err" || rc=$?
  _no_token_in "$TMP/fail.out" "$TMP/fail.err"
  err=$(cat "$TMP/fail.err")
  ((rc != 0)) || fail "berth $*: exit status 0, want a failure (stderr: $err)"
  [[ ! -s "$TMP/fail.out" ]] || fail "berth $*: failed but printed on stdout: $(head -c 300 "$TMP/fail.out")"
  [[ $(wc -l <"$TMP/fail.err") == 1 ]] || fail "berth $*: want one line on stderr, got: $err"
  [[ "$err" =~ $pattern ]] || fail "berth $*: stderr '$err' does not match /$pattern/"
}

# jq_is JSON FILTER EXPECTED MSG: jq -r FILTER of JSON must print EXPECTED.
jq_is() { assert_eq "$(jq -r "$2" <<<"$1")" "$3" "$4"; }

# --- a registry's login server, without DNS -------------------------------------------------

# The host curl uses for registry NAME (the domain without a port) and its URL for PATH on the
# server's port; reg_curl resolves that host to 127.0.0.1.
reg_host() { echo "$1.${DOMAIN%%:*}"; }
reg_url() { echo "${SERVER%%://*}://$(reg_host "$1"):$PORT$2"; }
reg_curl() {
  local name=$1
  shift
  curl -sS --max-time 60 --resolve "$(reg_host "$name"):$PORT:127.0.0.1" \
    ${CA_FILE:+--cacert "$CA_FILE"} "$@"
}
# reg_status NAME USER:PASS PATH: the HTTP status of GET PATH with Basic credentials.
reg_status() {
  reg_curl "$1" -u "$2" -o /dev/null -w '%{http_code}' "$(reg_url "$1" "$3")"
}

# push_blob NAME REPO FILE: upload FILE as a blob of REPO in registry NAME (monolithic POST) as
# REG_USER/REG_PASS.
push_blob() {
  local name=$1 repo=$2 file=$3 status
  status=$(reg_curl "$name" -u "$REG_USER:$REG_PASS" -o "$file.reply" -w '%{http_code}' \
    -X POST -H 'Content-Type: application/octet-stream' --data-binary "@$file" \
    "$(reg_url "$name" "/v2/$repo/blobs/uploads/?digest=$(file_digest "$file")")")
  [[ "$status" == 201 ]] || fail "push of $file to $name/$repo: HTTP $status: $(cat "$file.reply")"
}

# push_image NAME REPO TAG...: push a one-layer OCI image of fresh content to registry NAME as
# REG_USER/REG_PASS, under every TAG; prints the manifest digest.
push_image() {
  local name=$1 repo=$2 dir status tag
  shift 2
  dir=$(mktemp -d "$TMP/image.XXXXXX")
  head -c 4096 /dev/urandom >"$dir/layer"
  jq -cn --arg d "$(file_digest "$dir/layer")" \
    '{architecture: "amd64", os: "linux", rootfs: {type: "layers", diff_ids: [$d]}}' >"$dir/config"
  push_blob "$name" "$repo" "$dir/layer"
  push_blob "$name" "$repo" "$dir/config"
  jq -cn --arg c "$(file_digest "$dir/config")" --argjson cs "$(stat -c %s "$dir/config")" \
    --arg l "$(file_digest "$dir/layer")" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
      layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: 4096}]}' \
    >"$dir/manifest"
  for tag in "$@"; do
    status=$(put_manifest_as "$name" "$REG_USER:$REG_PASS" "$repo" "$tag" "$dir/manifest")
    [[ "$status" == 201 ]] || fail "PUT manifest $name/$repo:$tag: HTTP $status"
  done
  file_digest "$dir/manifest"
}

# put_manifest_as NAME USER:PASS REPO REF FILE: PUT an OCI manifest; prints the HTTP status.
put_manifest_as() {
  reg_curl "$1" -u "$2" -o /dev/null -w '%{http_code}' -X PUT \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$5" \
    "$(reg_url "$1" "/v2/$3/manifests/$4")"
}

# login_as_operator NAME: REG_USER/REG_PASS become the refresh token `berth login` exposes.
login_as_operator() {
  REG_USER=$NULL_USER
  REG_PASS=$(cli login -n "$1" --expose-token --query accessToken -o tsv)
  [[ -n "$REG_PASS" ]] || fail "berth login --expose-token gave no token"
}
