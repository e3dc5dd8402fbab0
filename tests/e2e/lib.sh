# shellcheck shell=bash
# Shared helpers for berth end-to-end tests. Source it, then call
# e2e_start "$@" (start registry + client config) before anything else.
#
# Environment:
#   E2E_REGISTRY=host:port  test an already running registry (nothing started); with
#                           E2E_REGISTRY_USER/E2E_REGISTRY_PASSWORD the clients log in to it
#   BERTH_BIN=/path/berth   server binary (or pass it as the script's first argument)
#   E2E_KEEP=1              keep the temp dir (printed at the end)
#   BERTH_TEST_STORE=DIR    keep the blobs in the object store emulator `tools/emulator start`
#                           left in DIR (its URL and credentials), under a prefix of this test;
#                           BERTH_TEST_STORE_PARAMS=&redirect=true adds to its URL
#   BERTH_TEST_POSTGRES=DIR keep the metadata in a new database of the PostgreSQL server
#                           `tools/postgres start` left in DIR
#   BERTH_TEST_CLUSTER=N    N berth nodes on that database and that object store (both must be
#                           set), behind HAProxy balancing each request round-robin: the
#                           clients talk to HAProxy; NODE_ADDRS and NODE_PIDS list the nodes
set -euo pipefail
shopt -s inherit_errexit

TEST_NAME=$(basename "$0" .sh)
TMP=""          # per-test temp dir
REG=""          # host:port of the registry under test
SERVER_PID=""   # set when we started the server ourselves
EXTRA_PIDS=()   # other servers a test starts (stopped and checked like SERVER_PID)
AT_EXIT=()      # commands run (eval) on exit, after the servers stopped: helpers a test started
BERTH=""        # server binary, DATA its data directory (when we started it)
DATA=""
REG_USER=""     # credentials the clients are logged in with ("" = none)
REG_PASS=""
CURL_AUTH=()    # curl arguments sending them
HTTP_STATUS=""  # set by http()
CMD_TIMEOUT=120 # seconds for any one skopeo/podman/docker command (exit 124 when hit)
E2E_SERVE_ARGS=() # more `berth serve` arguments (set after sourcing, before e2e_start)
CLIENT_WRAP=()  # command prefix for skopeo_cmd and podman_cmd (e.g. `unshare --mount ...`)
OPERATOR_TOKEN="" # control API token (control_api reads <data>/operator-token when empty)

log() { echo "--- [$TEST_NAME] $*" >&2; }
fail() { echo "FAIL [$TEST_NAME]: $*" >&2; exit 1; }
# assert_eq ACTUAL EXPECTED MSG
assert_eq() { [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"; }

# A free port below the ephemeral range, which no outgoing connection can take meanwhile.
free_port() { python3 "$(dirname "${BASH_SOURCE[0]}")/../../tools/free-port"; }

# Stop the server (SIGTERM, must exit 0 within 10s), show its log on failure,
# remove the temp dir. Runs on every exit.
_e2e_cleanup() {
  local rc=$? status i pid
  set +e
  for pid in $SERVER_PID "${EXTRA_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "FAIL [$TEST_NAME]: server $pid still running 10s after SIGTERM; killing it" >&2
      kill -KILL -- "-$pid"
      rc=1
    fi
    wait "$pid"
    status=$?
    if ((status != 0)); then
      echo "FAIL [$TEST_NAME]: server $pid exited with status $status after SIGTERM (want 0)" >&2
      ((rc != 0)) || rc=1
    fi
  done
  if [[ -n "$DATA" ]] && declare -F e2e_data_stopped >/dev/null; then e2e_data_stopped "$DATA"; fi
  for i in "${AT_EXIT[@]}"; do eval "$i"; done
  if ((rc != 0)) && [[ -s "$TMP/server.log" ]]; then
    echo "--- [$TEST_NAME] last lines of server stderr:" >&2
    tail -n 40 "$TMP/server.log" >&2
  fi
  if [[ -n "$TMP" ]]; then
    if [[ "${E2E_KEEP:-}" == 1 ]]; then echo "--- kept $TMP" >&2; else rm -rf "$TMP"; fi
  fi
  if ((rc == 0)); then echo "PASS [$TEST_NAME]"; else echo "FAILED [$TEST_NAME] (exit $rc)" >&2; fi
  exit "$rc"
}

# ERR trap: name the failed command and where it was called from.
_e2e_err() {
  local rc=$? i where
  where="$(basename "${BASH_SOURCE[1]}"):$1"
  for ((i = 1; i < ${#FUNCNAME[@]} - 1; i++)); do
    where+=" <- $(basename "${BASH_SOURCE[i + 1]}"):${BASH_LINENO[i]}"
  done
  echo "FAIL [$TEST_NAME]: status $rc from: $2  (at $where)" >&2
}

# e2e_start [BERTH_BIN]: temp dir, registry, isolated client configuration.
e2e_start() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/e2e-$TEST_NAME.XXXXXX")
  trap _e2e_cleanup EXIT
  set -o errtrace
  trap '_e2e_err "$LINENO" "$BASH_COMMAND"' ERR
  trap 'exit 130' INT
  trap 'exit 143' TERM
  _start_registry "${1:-${BERTH_BIN:-}}"
  _setup_clients
  _login_clients
  log "registry under test: $REG (temp dir $TMP)"
}

# e2e_start_configured JSON [BERTH_BIN]: e2e_start with berth reading a config file holding JSON
# (keys of docs/configuration.md); a script that needs its own server skips (77) against
# E2E_REGISTRY. Afterwards `cli` runs the berth client against the server as the operator.
e2e_start_configured() {
  local json=$1 config
  shift
  if [[ -n "${E2E_REGISTRY:-}" ]]; then
    echo "SKIP [$TEST_NAME]: configures the berth it starts (E2E_REGISTRY is set)"
    exit 77
  fi
  config=$(mktemp "${TMPDIR:-/tmp}/e2e-$TEST_NAME-config.XXXXXX")
  AT_EXIT+=("rm -f '$config'")
  echo "$json" >"$config"
  E2E_SERVE_ARGS+=(--config "$config")
  e2e_start "$@"
  export BERTH_SERVER="http://$REG"
  BERTH_OPERATOR_TOKEN=$(<"$DATA/operator-token")
  export BERTH_OPERATOR_TOKEN
}
cli() { "$BERTH" "$@"; }

# reference_start ADDRESS DATA LOG [reference-registry.sh options]: the reference registry
# (distribution) on ADDRESS, appending to LOG, waited for until it answers /v2/ (401 behind
# authentication, 200 without); its pid in REFERENCE_PID.
reference_start() {
  local address=$1 data=$2 out=$3
  shift 3
  bash "$(dirname "${BASH_SOURCE[0]}")/reference-registry.sh" serve --listen "$address" \
    --data "$data" "$@" >>"$out" 2>&1 &
  REFERENCE_PID=$!
  for _ in $(seq 100); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$address/v2/")" == [24]0[01] ]] && return 0
    sleep 0.1
  done
  fail "the reference registry on $address did not start"
}

# second_berth_start DATA LOG: another berth (the binary under test) with its admin account on,
# as another registry to talk to: its address in B_ADDR, the admin password in B_PASS. Its
# metadata is its own (SQLite in DATA), whatever the first one's is.
second_berth_start() {
  local data=$1 port
  port=$(free_port)
  B_ADDR=127.0.0.1:$port
  mkdir -p "$data"
  BERTH_METADATA="" "$BERTH" admin update --data "$data" --admin-enabled true >/dev/null
  B_PASS=$(BERTH_METADATA="" "$BERTH" admin credential renew --data "$data" \
    --password-name password | jq -er '.passwords[] | select(.name == "password") | .value')
  setsid "$BERTH" serve --listen "$B_ADDR" --data "$data" 2>"$2" &
  EXTRA_PIDS+=($!)
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://$B_ADDR/v2/" && return 0
    sleep 0.1
  done
  fail "the second berth on $B_ADDR did not start"
}

_start_registry() {
  # A server on an object store lists it once before it listens: an emulator busy with other
  # tests' requests may take a while to answer.
  local bin=$1 port status patience=10 deadline
  [[ -z "${BERTH_TEST_STORE:-}" ]] || patience=60
  deadline=$((SECONDS + patience))
  if [[ -n "${E2E_REGISTRY:-}" ]]; then
    REG=$E2E_REGISTRY
    REG_USER=${E2E_REGISTRY_USER:-}
    REG_PASS=${E2E_REGISTRY_PASSWORD:-}
    [[ -z "$REG_USER" ]] || CURL_AUTH=(-u "$REG_USER:$REG_PASS")
    curl -fsS --max-time 10 -o /dev/null "${CURL_AUTH[@]}" "http://$REG/v2/" ||
      fail "E2E_REGISTRY=$REG: GET /v2/ failed"
    return
  fi
  [[ -n "$bin" ]] || fail "usage: $0 /path/to/berth  (or set BERTH_BIN, or E2E_REGISTRY=host:port)"
  [[ -x "$bin" ]] || fail "server binary '$bin' is not executable"
  BERTH=$bin
  DATA=$TMP/data
  port=$(free_port)
  REG=127.0.0.1:$port
  mkdir -p "$DATA"
  if [[ -n "${BERTH_TEST_STORE:-}" ]]; then
    local url
    url=$(cat "$BERTH_TEST_STORE/url") || fail "no store URL in $BERTH_TEST_STORE/url"
    # shellcheck disable=SC1091
    source "$BERTH_TEST_STORE/env"
    E2E_SERVE_ARGS+=(--storage "${url/\?//$(basename "$TMP")?}${BERTH_TEST_STORE_PARAMS:-}")
    log "blobs in $url under $(basename "$TMP")"
  fi
  if [[ -n "${BERTH_TEST_POSTGRES:-}" ]]; then
    local db
    db=$("$(dirname "${BASH_SOURCE[0]}")/../../tools/postgres" createdb "$BERTH_TEST_POSTGRES" \
      "e2e_${TEST_NAME}_$$_$RANDOM") || fail "no database on the server in $BERTH_TEST_POSTGRES"
    # `berth admin` reads it from the environment, `berth serve` from its flag.
    export BERTH_METADATA=$db
    E2E_SERVE_ARGS+=(--metadata "$db")
    log "metadata in $db"
  fi
  # A script may put the data directory somewhere of its own (a small tmpfs, say).
  if declare -F e2e_data_created >/dev/null; then e2e_data_created "$DATA"; fi
  admin_login_setup "$DATA"
  if [[ -n "${BERTH_TEST_CLUSTER:-}" ]]; then
    _start_cluster "$bin" "$BERTH_TEST_CLUSTER"
    return
  fi
  # own process group (setsid execs, same pid), so a hung server can be killed with its children
  setsid "$bin" serve --listen "$REG" --data "$DATA" "${E2E_SERVE_ARGS[@]}" \
    >"$TMP/server.out" 2>"$TMP/server.log" &
  SERVER_PID=$!
  while ((SECONDS < deadline)); do
    curl -fsS --max-time 2 -o /dev/null "${CURL_AUTH[@]}" "http://$REG/v2/" 2>/dev/null && return 0
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      status=0
      wait "$SERVER_PID" || status=$?
      SERVER_PID=""
      fail "server exited with status $status before answering GET /v2/"
    fi
    sleep 0.1
  done
  fail "server did not answer GET http://$REG/v2/ within ${patience}s"
}

# _start_cluster BIN N: N nodes sharing the metadata database, the object store, the operator
# token and the secret key (those of the first node's data directory, DATA), each with a data
# directory of its own (spools, caches), and HAProxy in front at REG.
NODE_ADDRS=()
NODE_PIDS=()
HAPROXY_PID=""
_start_cluster() {
  local bin=$1 count=$2 i port front cfg
  [[ -n "${BERTH_TEST_POSTGRES:-}" && -n "${BERTH_TEST_STORE:-}" ]] ||
    fail "BERTH_TEST_CLUSTER needs BERTH_TEST_POSTGRES and BERTH_TEST_STORE"
  command -v haproxy >/dev/null || fail "haproxy is not installed (tools/install-deps)"
  front=$REG
  for ((i = 1; i <= count; i++)); do
    local data=$DATA log=$TMP/server.log
    ((i == 1)) || { data=$TMP/node$i; log=$TMP/node$i.log; }
    mkdir -p "$data"
    port=$(free_port)
    setsid "$bin" serve --listen "127.0.0.1:$port" --data "$data" --domain "$front" \
      --operator-token-file "$DATA/operator-token" --secret-key-file "$DATA/secret.key" \
      "${E2E_SERVE_ARGS[@]}" >>"$TMP/server.out" 2>>"$log" &
    NODE_PIDS+=($!)
    NODE_ADDRS+=("127.0.0.1:$port")
    # The first node makes the operator token and the secret key the others read.
    _wait_node "127.0.0.1:$port" "$!" "$log"
  done
  SERVER_PID=${NODE_PIDS[0]}
  EXTRA_PIDS+=("${NODE_PIDS[@]:1}")
  cfg=$TMP/haproxy.cfg
  {
    printf 'global\n  maxconn 2000\n'
    printf 'defaults\n  mode http\n  timeout connect 5s\n  timeout client 300s\n'
    printf '  timeout server 300s\n  timeout http-request 60s\n'
    # Each request to the next node in turn, however many a client sends on one connection;
    # one a node refused to connect goes to another (it never reached the first).
    printf '  option http-server-close\n  balance roundrobin\n  retries 2\n'
    printf '  option redispatch 1\n'
    printf 'frontend registry\n  bind %s\n  default_backend nodes\n' "$front"
    # As deploy/haproxy/haproxy.cfg: a node is in while its /readyz answers 200.
    printf 'backend nodes\n  option httpchk GET /readyz\n  http-check expect status 200\n'
    printf '  default-server check inter 500 fall 2 rise 1\n'
    for ((i = 0; i < count; i++)); do
      printf '  server node%d %s\n' "$((i + 1))" "${NODE_ADDRS[i]}"
    done
  } >"$cfg"
  haproxy -db -f "$cfg" >"$TMP/haproxy.log" 2>&1 &
  HAPROXY_PID=$!
  # SIGUSR1: HAProxy's graceful stop, which exits 0 (SIGTERM ends it with 143).
  AT_EXIT+=("kill -USR1 $HAPROXY_PID 2>/dev/null; wait $HAPROXY_PID 2>/dev/null")
  for _ in $(seq 100); do
    curl -fsS --max-time 2 -o /dev/null "${CURL_AUTH[@]}" "http://$REG/v2/" 2>/dev/null && {
      log "$count nodes behind HAProxy at $REG: ${NODE_ADDRS[*]}"
      return 0
    }
    sleep 0.1
  done
  cat "$TMP/haproxy.log" >&2
  fail "HAProxy on $REG did not answer"
}

# _wait_node ADDR PID LOG: until the node answers GET /v2/.
_wait_node() {
  for _ in $(seq 600); do
    curl -fsS --max-time 2 -o /dev/null "${CURL_AUTH[@]}" "http://$1/v2/" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { tail -20 "$3" >&2; fail "node $1 exited before answering"; }
    sleep 0.1
  done
  fail "node $1 did not answer GET /v2/ within 60s"
}

# admin_login_setup DATA_DIR: enable the admin account of the registry in DATA_DIR, give it a
# fresh password and make it the clients' credentials (REG_USER, REG_PASS, CURL_AUTH).
admin_login_setup() {
  "$BERTH" admin update --data "$1" --admin-enabled true >/dev/null || fail "berth admin update failed"
  REG_PASS=$("$BERTH" admin credential renew --data "$1" --password-name password |
    jq -er '.passwords[] | select(.name == "password") | .value') || fail "berth admin credential renew failed"
  REG_USER=default
  CURL_AUTH=(-u "$REG_USER:$REG_PASS")
}

# Client configuration lives in the temp dir; nothing global is modified
# (except skopeo's blob-info cache, which it always keeps in /var/lib/containers/cache as root).
_setup_clients() {
  CONTAINERS_DIR=$TMP/c  # short: podman wants a runroot under 50 chars
  mkdir -p "$CONTAINERS_DIR/tmp" "$CONTAINERS_DIR/registries.d" "$TMP/docker"
  POLICY=$CONTAINERS_DIR/policy.json
  echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$POLICY"
  cat >"$CONTAINERS_DIR/registries.conf" <<EOF
unqualified-search-registries = []
[[registry]]
location = "$REG"
insecure = true
EOF
  cat >"$CONTAINERS_DIR/containers.conf" <<EOF
[engine]
events_logger = "none"
cgroup_manager = "cgroupfs"
image_copy_tmp_dir = "$CONTAINERS_DIR/tmp"
[network]
# cni keeps its state in network_config_dir; rootful netavark would use /run/containers
network_backend = "cni"
network_config_dir = "$CONTAINERS_DIR/networks"
EOF
  echo '{}' >"$CONTAINERS_DIR/auth.json"
  echo '{}' >"$TMP/docker/config.json"
  export CONTAINERS_REGISTRIES_CONF=$CONTAINERS_DIR/registries.conf
  export CONTAINERS_CONF=$CONTAINERS_DIR/containers.conf
  export REGISTRY_AUTH_FILE=$CONTAINERS_DIR/auth.json
  export DOCKER_CONFIG=$TMP/docker
}

# Log skopeo and podman in (both use $REGISTRY_AUTH_FILE) and give docker the same credentials.
_login_clients() {
  [[ -n "$REG_USER" ]] || return 0
  skopeo_cmd login --tls-verify=false -u "$REG_USER" --password-stdin "$REG" <<<"$REG_PASS" >/dev/null
  podman_cmd login --tls-verify=false -u "$REG_USER" --password-stdin "$REG" <<<"$REG_PASS" >/dev/null
  # docker: the file `docker login` would write (older CLIs log in through the daemon).
  jq -n --arg reg "$REG" --arg auth "$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w0)" \
    '{auths: {($reg): {auth: $auth}}}' >"$DOCKER_CONFIG/config.json"
}

# skopeo with the test's policy; TLS verification is disabled per command by callers.
# (Every skopeo/podman/docker invocation first tries TLS on the plain-HTTP port, then falls back.)
skopeo_cmd() {
  "${CLIENT_WRAP[@]}" timeout --foreground "$CMD_TIMEOUT" skopeo --policy "$POLICY" --registries.d "$CONTAINERS_DIR/registries.d" "$@"
}

# resolve_in_clients HOST:PORT...: skopeo_cmd and podman_cmd resolve each HOST to 127.0.0.1 and
# treat HOST:PORT as an insecure (plain HTTP) registry. They run in their own mount namespace
# with a private copy of /etc/hosts bind-mounted over it; the machine's /etc/hosts is untouched.
resolve_in_clients() {
  local hp
  [[ -f "$TMP/hosts" ]] || cp /etc/hosts "$TMP/hosts"
  for hp in "$@"; do
    echo "127.0.0.1 ${hp%:*}" >>"$TMP/hosts"
    printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$hp" >>"$CONTAINERS_REGISTRIES_CONF"
  done
  # shellcheck disable=SC2016 # expanded by the inner bash
  CLIENT_WRAP=(env "E2E_HOSTS_FILE=$TMP/hosts" unshare --mount
    bash -c 'mount --bind "$E2E_HOSTS_FILE" /etc/hosts && exec "$@"' _)
}

# podman on a private vfs store inside the temp dir.
podman_cmd() {
  TMPDIR=$CONTAINERS_DIR/tmp "${CLIENT_WRAP[@]}" timeout --foreground "$CMD_TIMEOUT" podman \
    --root "$CONTAINERS_DIR/root" --runroot "$CONTAINERS_DIR/run" --storage-driver vfs \
    --tmpdir "$CONTAINERS_DIR/tmp" --events-backend none --cgroup-manager cgroupfs "$@"
}
podman_pull() { podman_cmd pull --quiet --tls-verify=false --signature-policy "$POLICY" "$@"; }
podman_push() { podman_cmd push --quiet --tls-verify=false --signature-policy "$POLICY" "$@"; }
# docker CLI without a daemon: only `docker manifest inspect` is usable.
docker_manifest_inspect() { timeout --foreground "$CMD_TIMEOUT" docker manifest inspect --insecure --verbose "$@"; }

# --- OCI layouts --------------------------------------------------------------

# make_image LAYOUT TAG NLAYERS [ARCH] [OS]: image with NLAYERS layers of
# distinct random content (4 KiB - 1 MiB each) tagged TAG in the OCI layout.
make_image() {
  local layout=$1 tag=$2 n=$3 arch=${4:-amd64} os=${5:-linux} i size f
  [[ -f "$layout/oci-layout" ]] || umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  for ((i = 1; i <= n; i++)); do
    size=$(shuf -i 4096-1048576 -n 1)
    f=$TMP/layer-content.bin
    head -c "$size" /dev/urandom >"$f"
    umoci insert --rootless --image "$layout:$tag" "$f" "/data/$tag-layer$i.bin"
  done
  rm -f "$f"
  umoci config --image "$layout:$tag" --architecture "$arch" --os "$os" \
    --config.cmd /bin/true --author berth-e2e
  umoci gc --layout "$layout"
}

# make_multiarch LAYOUT TAG: linux/amd64 and linux/arm64 images (tags amd64 and arm64, two
# layers each) and an OCI index over them tagged TAG, in the layout. Sets AMD64_DIGEST,
# ARM64_DIGEST and INDEX_DIGEST; the index's bytes are in $TMP/index.json.
make_multiarch() {
  local layout=$1 tag=$2 index_type=application/vnd.oci.image.index.v1+json
  make_image "$layout" amd64 2 amd64 linux
  make_image "$layout" arm64 2 arm64 linux
  AMD64_DIGEST=$(layout_digest "$layout" amd64)
  ARM64_DIGEST=$(layout_digest "$layout" arm64)
  _descriptor() {
    local f
    f=$(layout_manifest "$layout" "$1")
    jq -n --arg mt application/vnd.oci.image.manifest.v1+json --arg d "$(file_digest "$f")" \
      --argjson s "$(stat -c %s "$f")" --arg a "$1" \
      '{mediaType: $mt, digest: $d, size: $s, platform: {architecture: $a, os: "linux"}}'
  }
  jq -n --arg mt "$index_type" --argjson a "$(_descriptor amd64)" --argjson b "$(_descriptor arm64)" \
    '{schemaVersion: 2, mediaType: $mt, manifests: [$a, $b]}' >"$TMP/index.json"
  INDEX_DIGEST=$(file_digest "$TMP/index.json")
  cp "$TMP/index.json" "$(layout_blob "$layout" "$INDEX_DIGEST")"
  jq --arg mt "$index_type" --arg d "$INDEX_DIGEST" --argjson s "$(stat -c %s "$TMP/index.json")" \
    --arg t "$tag" \
    '.manifests += [{mediaType: $mt, digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": $t}}]' \
    "$layout/index.json" >"$TMP/layout-index.json"
  mv "$TMP/layout-index.json" "$layout/index.json"
}

# layout_digest LAYOUT TAG: manifest (or index) digest the layout's index.json gives TAG.
layout_digest() {
  jq -er --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
    "$1/index.json"
}

# layout_blob LAYOUT DIGEST: path of a blob in the layout.
layout_blob() { echo "$1/blobs/${2%%:*}/${2#*:}"; }

# layout_manifest LAYOUT TAG: path of the manifest blob TAG points at.
layout_manifest() { layout_blob "$1" "$(layout_digest "$1" "$2")"; }

# manifest_blobs MANIFEST_FILE: config and layer digests, one a line.
manifest_blobs() { jq -r '.config.digest, .layers[].digest' "$1"; }

# assert_same_image LAYOUT_A TAG_A LAYOUT_B TAG_B: same manifest digest, same
# config/layer digests, and every blob in B has the content its digest names.
assert_same_image() {
  local da db b
  da=$(layout_digest "$1" "$2")
  db=$(layout_digest "$3" "$4")
  assert_eq "$db" "$da" "manifest digest of $4 copied back"
  assert_eq "$(manifest_blobs "$(layout_manifest "$3" "$4")")" \
    "$(manifest_blobs "$(layout_manifest "$1" "$2")")" "config/layer digests of $4"
  for b in $(manifest_blobs "$(layout_manifest "$3" "$4")"); do
    assert_eq "$(file_digest "$(layout_blob "$3" "$b")")" "$b" "content of blob $b in $3"
  done
}

# layout_config LAYOUT TAG: path of the config blob of TAG's manifest.
layout_config() { layout_blob "$1" "$(jq -r .config.digest "$(layout_manifest "$1" "$2")")"; }

# sha256 of stdin as "sha256:<hex>".
sha256() { echo "sha256:$(sha256sum | cut -d' ' -f1)"; }
file_digest() { sha256 <"$1"; }

# remote_digest REPO[:TAG|@DIGEST]: digest of the manifest bytes skopeo reads back.
remote_digest() {
  skopeo_cmd inspect --raw --tls-verify=false "docker://$REG/$1" | sha256
}

# --- raw HTTP -----------------------------------------------------------------

# url PATH_OR_URL: absolute URL (Location headers may be relative).
url() { if [[ "$1" == http* ]]; then echo "$1"; else echo "http://$REG$1"; fi; }

# http METHOD PATH [curl args...]: sets HTTP_STATUS; headers in $TMP/http.headers, body in $TMP/http.body.
http() {
  local method=$1 target
  target=$(url "$2")
  shift 2
  local how=(-X "$method")
  [[ "$method" == HEAD ]] && how=(--head)
  HTTP_STATUS=$(curl -sS --max-time 60 "${how[@]}" -D "$TMP/http.headers" -o "$TMP/http.body" \
    -w '%{http_code}' "${CURL_AUTH[@]}" "$@" "$target") || fail "curl $method $target failed"
}
# header NAME: value of a header of the last http() response ("" if absent).
header() {
  grep -i "^$1:" "$TMP/http.headers" | tail -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//' || true
}
body() { cat "$TMP/http.body"; }
# expect_status CODE WHAT: check the last http() status, show the body otherwise.
expect_status() {
  [[ "$HTTP_STATUS" == "$1" ]] || fail "$2: HTTP $HTTP_STATUS (want $1): $(head -c 500 "$TMP/http.body")"
}

# control_api METHOD PATH [JSON]: call the control API (/api/v1) with the operator token; sets
# HTTP_STATUS, headers in $TMP/http.headers, body in $TMP/http.body (header(), body(),
# expect_status() work on it).
control_api() {
  local method=$1 path=$2 data=()
  shift 2
  (($# == 0)) || data=(-H 'Content-Type: application/json' --data-binary "$1")
  [[ -n "$OPERATOR_TOKEN" ]] || OPERATOR_TOKEN=$(<"$DATA/operator-token")
  HTTP_STATUS=$(curl -sS --max-time 60 -X "$method" -D "$TMP/http.headers" -o "$TMP/http.body" \
    -w '%{http_code}' -H "Authorization: Bearer $OPERATOR_TOKEN" "${data[@]}" "http://$REG$path") ||
    fail "curl $method $path failed"
}

# upload_blob REPO FILE: monolithic upload (POST, then PUT ?digest= with the body).
upload_blob() {
  local repo=$1 file=$2 digest loc
  digest=$(file_digest "$file")
  http POST "/v2/$repo/blobs/uploads/"
  expect_status 202 "POST upload for $repo"
  loc=$(header Location)
  [[ -n "$loc" ]] || fail "POST upload for $repo: no Location header"
  if [[ "$loc" == *\?* ]]; then loc="$loc&digest=$digest"; else loc="$loc?digest=$digest"; fi
  http PUT "$loc" -H 'Content-Type: application/octet-stream' --data-binary "@$file"
  expect_status 201 "PUT upload of $digest to $repo"
  assert_eq "$(header Docker-Content-Digest)" "$digest" "Docker-Content-Digest of uploaded blob"
}

# put_manifest REPO REF FILE MEDIATYPE: PUT a manifest; caller checks HTTP_STATUS and headers.
put_manifest() {
  http PUT "/v2/$1/manifests/$2" -H "Content-Type: $4" --data-binary "@$3"
}
