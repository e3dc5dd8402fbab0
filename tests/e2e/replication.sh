#!/usr/bin/env bash
# Replication (`berth replication`) to real registries started here: the reference registry
# (distribution) behind htpasswd and behind the token flow (tests/e2e/token_server.py), and a
# second berth behind its own token flow, under a prefix.
# skopeo pushes a multi-arch index and an image to berth; both targets then serve the same
# digests (skopeo reads them back). Scopes decide what goes where; a delete follows its push;
# with the target stopped, changes wait (status: queued, lag, the last error naming the target)
# and are copied once it is back; a replication made after the images were pushed copies them
# with `sync`; wrong credentials give an error naming the target; the blobs go up once. The
# token-flow distribution is also imported from (an upstream), with a wrong password refused.
# Usage: replication.sh /path/to/berth
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
HERE=$(dirname "$0")
UP_PORT=$(free_port)
UP=127.0.0.1:$UP_PORT
e2e_start_configured '{"upstream_allow_loopback": true, "upstream_insecure_registries": "127.0.0.1",
  "replication_backoff_cap_seconds": 1}' "$@"

UP_PID=""
start_target() {
  reference_start "$UP" "$TMP/target" "$TMP/target.log" --htpasswd "$TMP/htpasswd"
  UP_PID=$REFERENCE_PID
}
stop_target() { kill -TERM "$UP_PID" 2>/dev/null && wait "$UP_PID" 2>/dev/null || true; }
AT_EXIT+=(stop_target)
# The digest a target has at a reference, or nothing.
target_digest() {
  skopeo_cmd inspect --raw --tls-verify=false "${@:2}" "docker://$1" >"$TMP/raw" 2>/dev/null ||
    return 0
  sha256 <"$TMP/raw"
}
on_dist() { target_digest "$UP/$1" --creds mirror:target-pass; }
on_berth() { target_digest "$B_ADDR/$1" --creds "default:$B_PASS"; }
# Waits until the replication has copied COUNT changes in all and has none queued.
caught_up() {
  local status
  for _ in $(seq 300); do
    status=$(cli replication status -r default -n "$1")
    jq -e --argjson n "$2" '.queued == 0 and .replicated >= $n' <<<"$status" >/dev/null &&
      return 0
    sleep 0.1
  done
  fail "replication $1 did not catch up with $2 changes: $(jq -c . <<<"$status")"
}

log "the targets: the reference registry on $UP behind htpasswd, and a second berth"
htpasswd -Bbc "$TMP/htpasswd" mirror 'target-pass' 2>/dev/null
start_target
second_berth_start "$TMP/target-berth" "$TMP/target-berth.log"

log "credential sets and two replications: team/* to distribution, everything to berth"
printf 'target-pass\n' >"$TMP/dist-password"
cli credential-set create -r default -n dist --login-server "$UP" -u mirror \
  --password-file "$TMP/dist-password" >/dev/null
printf '%s\n' "$B_PASS" >"$TMP/berth-password"
cli credential-set create -r default -n peer --login-server "$B_ADDR" -u default \
  --password-file "$TMP/berth-password" >/dev/null
cli replication create -r default -n dist --target "http://$UP" --credential-set dist \
  --scope 'team/*' >"$TMP/dist.json"
assert_eq "$(jq -r .target "$TMP/dist.json")" "http://$UP" "the replication's target"
assert_eq "$(jq -c .scopes "$TMP/dist.json")" '["team/*"]' "the replication's scopes"
cli replication create -r default -n peer --target "http://$B_ADDR/mirror" \
  --credential-set peer >/dev/null
cli replication list -r default | jq -e 'length == 2' >/dev/null || fail "replication list"

log "skopeo pushes an index and an image to berth; both targets get them"
make_multiarch "$TMP/src" multi
make_image "$TMP/src" other 2
skopeo_cmd copy --quiet --all --dest-tls-verify=false "oci:$TMP/src:multi" "docker://$REG/team/app:v1"
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:other" "docker://$REG/solo/other:1"
caught_up dist 3  # two manifests by digest, then the index
caught_up peer 4
assert_eq "$(on_dist team/app:v1)" "$INDEX_DIGEST" "the index on distribution"
assert_eq "$(on_berth mirror/team/app:v1)" "$INDEX_DIGEST" "the index on the second berth"
assert_eq "$(on_berth mirror/solo/other:1)" "$(layout_digest "$TMP/src" other)" \
  "the image on the second berth"
assert_eq "$(on_dist solo/other:1)" "" "an image outside the scope, on distribution"
skopeo_cmd copy --quiet --all --src-tls-verify=false --src-creds mirror:target-pass \
  "docker://$UP/team/app:v1" "oci:$TMP/back:multi"
assert_eq "$(layout_digest "$TMP/back" multi)" "$INDEX_DIGEST" "the index read back from distribution"
for d in "$AMD64_DIGEST" "$ARM64_DIGEST"; do
  for b in $(manifest_blobs "$(layout_blob "$TMP/back" "$d")"); do
    assert_eq "$(file_digest "$(layout_blob "$TMP/back" "$b")")" "$b" "blob $b of $d read back"
  done
done
status=$(cli replication status -r default -n dist)
[[ "$(jq -r .lastSuccess <<<"$status")" != null ]] || fail "no last success: $status"
assert_eq "$(jq -r .lagSeconds <<<"$status")" 0 "the lag once caught up"
curl -fsS "http://$REG/metrics" 2>/dev/null | grep -q '^berth_replication_tasks_total{outcome="done"} [1-9]' ||
  fail "no copies counted in berth_replication_tasks_total"

log "a tag moved, then deleted: the targets follow, in order"
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:amd64" "docker://$REG/team/app:v2"
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:arm64" "docker://$REG/team/app:v2"
caught_up dist 5
caught_up peer 6
assert_eq "$(on_dist team/app:v2)" "$ARM64_DIGEST" "the moved tag on distribution"
assert_eq "$(on_berth mirror/team/app:v2)" "$ARM64_DIGEST" "the moved tag on the second berth"
http DELETE "/v2/team/app/manifests/v2"
expect_status 202 "the tag deleted in berth"
caught_up peer 7
assert_eq "$(on_berth mirror/team/app:v2)" "" "the deleted tag on the second berth"
assert_eq "$(on_berth "mirror/team/app@$ARM64_DIGEST")" "$ARM64_DIGEST" \
  "the manifest the deleted tag pointed at, on the second berth (only the tag went)"
for _ in $(seq 100); do
  status=$(cli replication status -r default -n dist)
  [[ "$(jq -r .failed <<<"$status")" == 1 ]] && break
  sleep 0.1
done
assert_eq "$(jq -r .failed <<<"$status")" 1 "a tag delete distribution cannot do, given up"
jq -r .lastError <<<"$status" | grep -q "cannot delete the tag team/app:v2 alone" ||
  fail "the error of a tag delete distribution refuses: $(jq -r .lastError <<<"$status")"
assert_eq "$(on_dist team/app:v2)" "$ARM64_DIGEST" "the tag distribution could not delete"

log "the target stopped: changes wait, with the error, and go once it is back"
stop_target
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:other" "docker://$REG/team/later:1"
for _ in $(seq 100); do
  status=$(cli replication status -r default -n dist)
  jq -e '.queued == 1 and (.lastError | test("cannot delete") | not)' <<<"$status" >/dev/null &&
    break
  sleep 0.1
done
assert_eq "$(jq -r .queued <<<"$status")" 1 "changes waiting for the stopped target"
jq -r .lastError <<<"$status" | grep -q "upstream $UP" ||
  fail "the error does not name the target: $(jq -r .lastError <<<"$status")"
sleep 1.2
lag=$(cli replication status -r default -n dist | jq -r .lagSeconds)
awk -v l="$lag" 'BEGIN { exit !(l >= 1) }' || fail "the lag while the target is down: $lag"
start_target
caught_up dist 6
assert_eq "$(on_dist team/later:1)" "$(layout_digest "$TMP/src" other)" "the change copied once back"

log "a manifest deleted by digest goes on both targets"
later=$(layout_digest "$TMP/src" other)
http DELETE "/v2/team/later/manifests/$later"
expect_status 202 "the manifest deleted in berth"
caught_up dist 7
caught_up peer 9
assert_eq "$(on_dist "team/later@$later")" "" "the deleted manifest on distribution"
assert_eq "$(on_berth "mirror/team/later@$later")" "" "the deleted manifest on the second berth"

log "a replication made afterwards copies what is there with sync"
cli replication create -r default -n late --target "http://$B_ADDR/late" \
  --credential-set peer --scope 'team/app:v*' --scope solo/other >/dev/null
cli replication sync -r default -n late >"$TMP/sync.json"
assert_eq "$(jq -r .name "$TMP/sync.json")" late "the replication a sync was asked of"
for _ in $(seq 100); do
  [[ "$(cli replication status -r default -n late | jq -r .lastSync)" != null ]] && break
  sleep 0.1
done
caught_up late 2
assert_eq "$(on_berth late/team/app:v1)" "$INDEX_DIGEST" "team/app:v1 synced"
assert_eq "$(on_berth late/solo/other:1)" "$(layout_digest "$TMP/src" other)" "solo/other:1 synced"
assert_eq "$(on_berth late/team/later:1)" "" "a repository outside the scope, synced"

log "the blobs went up to distribution once each (layers shared by the index and others)"
uploads=$(grep -c '"PUT /v2/team/[a-z]*/blobs/uploads/' "$TMP/target.log" || true)
# index: 2 configs + 4 layers; team/later:1 (other): config + 2 layers
assert_eq "$uploads" 9 "blob uploads distribution received"

log "wrong credentials: the change waits with an error naming the target"
printf 'wrong\n' >"$TMP/wrong"
cli credential-set create -r default -n wrong --login-server "$UP" -u mirror \
  --password-file "$TMP/wrong" >/dev/null
cli replication create -r default -n bad --target "http://$UP/bad" --credential-set wrong \
  --scope team/app >/dev/null
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:amd64" "docker://$REG/team/app:latest"
for _ in $(seq 100); do
  status=$(cli replication status -r default -n bad)
  [[ "$(jq -r .lastError <<<"$status")" != null ]] && break
  sleep 0.1
done
jq -r .lastError <<<"$status" | grep -q "upstream $UP refused the credentials of mirror" ||
  fail "the error for wrong credentials: $status"
if cli credential-set delete -r default -n wrong --yes 2>"$TMP/inuse.err"; then
  fail "a credential set a replication uses was deleted"
fi
grep -q "used by replication bad" "$TMP/inuse.err" || fail "the refusal: $(cat "$TMP/inuse.err")"
cli replication update -r default -n bad --enabled false >/dev/null
cli replication delete -r default -n bad --yes
cli credential-set delete -r default -n wrong --yes

log "distribution behind the token flow: a replication target, then an upstream to import from"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/token-key.pem" -out "$TMP/token-cert.pem" \
  -days 2 -subj /CN=berth-test-tokens 2>/dev/null
TOKEN_PORT=$(free_port)
setsid python3 "$HERE/token_server.py" "$TOKEN_PORT" "$TMP/token-key.pem" "$TMP/token-cert.pem" \
  berth-test-tokens ci 'token-pass' >"$TMP/tokens.log" 2>&1 &
EXTRA_PIDS+=($!)
TOK=127.0.0.1:$(free_port)
reference_start "$TOK" "$TMP/token-target" "$TMP/token-target.log" \
  --token-realm "http://127.0.0.1:$TOKEN_PORT/token" --token-cert "$TMP/token-cert.pem"
EXTRA_PIDS+=("$REFERENCE_PID")
printf 'token-pass\n' >"$TMP/token-password"
cli credential-set create -r default -n tok --login-server "$TOK" -u ci \
  --password-file "$TMP/token-password" >/dev/null
cli replication create -r default -n tok --target "http://$TOK" --credential-set tok \
  --scope team/app:v1 >/dev/null
cli replication sync -r default -n tok >/dev/null
caught_up tok 1
assert_eq "$(target_digest "$TOK/team/app:v1" --creds ci:token-pass)" "$INDEX_DIGEST" \
  "the index on distribution behind tokens"
grep -q '"actions": \["pull", "push", "delete"\]' "$TMP/tokens.log" ||
  fail "berth asked no push token: $(head -3 "$TMP/tokens.log")"
cli import -r default --source "$TOK/team/app:v1" --image back/app:v1 -u ci --password-stdin \
  <<<"token-pass" >"$TMP/back.json" 2>"$TMP/back.err" || fail "import back: $(cat "$TMP/back.err")"
assert_eq "$(jq -r .digest "$TMP/back.json")" "$INDEX_DIGEST" "imported back through the token flow"
assert_eq "$(remote_digest back/app:v1)" "$INDEX_DIGEST" "back/app:v1 read back"
if cli import -r default --source "$TOK/team/app:v1" -u ci -p wrong >/dev/null 2>"$TMP/tok.err"; then
  fail "an import with wrong credentials at the token service succeeded"
fi
tail -n 1 "$TMP/tok.err" | grep -q "upstream $TOK refused the credentials of ci at its token service" ||
  fail "wrong credentials at the token service: $(cat "$TMP/tok.err")"

log "bad input is refused with one line"
expect_cli_error() {
  local want=$1
  shift
  if cli "$@" >/dev/null 2>"$TMP/err"; then fail "accepted: $*"; fi
  [[ "$(wc -l <"$TMP/err")" == 1 ]] || fail "more than one line: $(cat "$TMP/err")"
  grep -q -- "$want" "$TMP/err" || fail "$*: $(cat "$TMP/err") (want $want)"
}
expect_cli_error "invalid replication target" replication create -r default -n x --target "ftp://$UP"
expect_cli_error "credential set dist is for $UP" replication create -r default -n x \
  --target "http://$B_ADDR" --credential-set dist
expect_cli_error "invalid scope" replication create -r default -n x --target "http://$UP" \
  --scope 'Bad Scope'
expect_cli_error "mode must be push" replication create -r default -n x --target "http://$UP" \
  --mode pull
expect_cli_error "replication nope not found" replication status -r default -n nope
cli replication list -r default | jq -e 'length == 4' >/dev/null || fail "replications after refusals"
log "ok"
