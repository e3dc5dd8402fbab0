#!/usr/bin/env bash
# Webhooks and the audit log with real clients. A receiver started here gets ACR's payload,
# signed, for a skopeo push, a tag skopeo moves, a skopeo delete and a ping; a receiver that is
# down for 30 s gets every event once it is back; a receiver that never answers slows no push;
# a webhook scoped elsewhere hears nothing. `berth audit list` holds each action with the right
# identity, refused logins included, and no secret appears in the audit log, its export or the
# server's log.
# Usage: webhooks.sh /path/to/berth
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
if [[ -n "${E2E_REGISTRY:-}" ]]; then
  echo "SKIP [$TEST_NAME]: configures berth's webhooks with the operator token of its data directory (E2E_REGISTRY is set)"
  exit 77
fi
HERE=$(dirname "$0")
CONFIG=$(mktemp "${TMPDIR:-/tmp}/e2e-webhooks-config.XXXXXX")
AUDIT_FILE=${CONFIG}.audit.jsonl
AT_EXIT+=("rm -f '$CONFIG' '$AUDIT_FILE'")
cat >"$CONFIG" <<JSON
{"webhook_allow_loopback": true, "webhook_timeout_seconds": 2, "webhook_backoff_max_seconds": 2,
 "audit_log": "$AUDIT_FILE"}
JSON
E2E_SERVE_ARGS=(--config "$CONFIG")
e2e_start "$@"
export BERTH_SERVER="http://$REG"
BERTH_OPERATOR_TOKEN=$(<"$DATA/operator-token")
export BERTH_OPERATOR_TOKEN

RECEIVER_PIDS=()
# receiver PORT LOG [--hang]: a receiver in the background, once it listens.
receiver() {
  rm -f "$2.ready"
  python3 "$HERE/webhook_receiver.py" "$@" &
  RECEIVER_PIDS+=($!)
  for _ in $(seq 100); do [[ -f "$2.ready" ]] && return 0; sleep 0.1; done
  fail "the receiver on port $1 did not start"
}
stop_receivers() { for pid in "${RECEIVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
AT_EXIT+=(stop_receivers)

# wait_for LOG JQ_FILTER WHAT: until a line of LOG (its body parsed) matches, for 30 s.
wait_for() {
  local log=$1 filter=$2 what=$3
  for _ in $(seq 300); do
    if [[ -f "$log" ]] && jq -e -s "[.[] | .body | fromjson | select($filter)] | length > 0" \
      "$log" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  fail "no delivery of $what in $log: $(cat "$log" 2>/dev/null)"
}

PORT=$(free_port)
HOOKS=$TMP/hooks.jsonl
receiver "$PORT" "$HOOKS"

log "create a webhook with a custom header; the secret is shown once"
created=$(cli webhook create -r default -n deploy --uri "http://127.0.0.1:$PORT/hook" \
  --actions push delete --headers "Authorization=Bearer hook-header-secret" X-Team=blue)
SECRET=$(jq -r .secret <<<"$created")
[[ ${#SECRET} -ge 40 ]] || fail "no secret in the create output: $created"
[[ "$(cli webhook show -r default -n deploy | jq -r '.secret // "none"')" == none ]] ||
  fail "show repeats the secret"
assert_eq "$(cli webhook get-config -r default -n deploy | jq -r '.customHeaders["X-Team"]')" \
  blue "get-config shows the headers"

log "a webhook scoped to other repositories, and one whose receiver never answers"
OTHER_PORT=$(free_port)
receiver "$OTHER_PORT" "$TMP/other.jsonl"
cli webhook create -r default -n elsewhere --uri "http://127.0.0.1:$OTHER_PORT/" \
  --actions push delete --scope 'other/*:*' >/dev/null
HANG_PORT=$(free_port)
receiver "$HANG_PORT" "$TMP/hang.jsonl" --hang
cli registry update -n default --sku Standard >/dev/null
cli webhook create -r default -n hanging --uri "http://127.0.0.1:$HANG_PORT/" \
  --actions push >/dev/null

push() { skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:$1" "docker://$REG/e2e/hooked:$2"; }
make_image "$TMP/src" v1 1
make_image "$TMP/src" v2 1
d1=$(layout_digest "$TMP/src" v1)
d2=$(layout_digest "$TMP/src" v2)

log "skopeo push: a push event with the tag, the digest and the request"
push v1 v1
wait_for "$HOOKS" ".action == \"push\" and .target.tag == \"v1\" and .target.digest == \"$d1\"" "the push of v1"
event=$(jq -s -c "[.[] | .body | fromjson | select(.target.digest == \"$d1\")][0]" "$HOOKS")
assert_eq "$(jq -r .target.repository <<<"$event")" e2e/hooked "target.repository"
assert_eq "$(jq -r .target.mediaType <<<"$event")" application/vnd.oci.image.manifest.v1+json "target.mediaType"
size=$(wc -c <"$(layout_manifest "$TMP/src" v1)")
assert_eq "$(jq -r .target.size <<<"$event")" "$size" "target.size"
assert_eq "$(jq -r .target.length <<<"$event")" "$size" "target.length"
assert_eq "$(jq -r .request.method <<<"$event")" PUT "request.method"
assert_eq "$(jq -r .request.host <<<"$event")" "$REG" "request.host"
[[ "$(jq -r .request.useragent <<<"$event")" == *skopeo* ]] || fail "request.useragent: $event"
[[ "$(jq -r .request.id <<<"$event")" != null ]] || fail "no request.id: $event"
[[ "$(jq -r .id <<<"$event")" =~ ^[0-9a-f-]{36}$ ]] || fail "id: $event"
[[ "$(jq -r .timestamp <<<"$event")" =~ ^20[0-9-]+T[0-9:.]+Z$ ]] || fail "timestamp: $event"

log "skopeo moves the tag: a push event with the new digest"
push v2 v1
wait_for "$HOOKS" ".action == \"push\" and .target.tag == \"v1\" and .target.digest == \"$d2\"" "the tag move"

log "skopeo delete: a delete event"
skopeo_cmd delete --tls-verify=false "docker://$REG/e2e/hooked:v1"
wait_for "$HOOKS" ".action == \"delete\" and .target.digest == \"$d2\" and .target.repository == \"e2e/hooked\"" "the delete"

log "ping"
cli webhook ping -r default -n deploy >/dev/null
wait_for "$HOOKS" '.action == "ping"' "the ping"

log "every delivery carries the headers and a signature that verifies"
python3 - "$HOOKS" "$SECRET" <<'PY'
import hashlib, hmac, json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert lines, "no deliveries"
for l in lines:
    h = {k.lower(): v for k, v in l["headers"].items()}
    want = "sha256=" + hmac.new(sys.argv[2].encode(), l["body"].encode(), hashlib.sha256).hexdigest()
    assert h.get("x-berth-signature-256") == want, ("bad signature", h, l["body"])
    assert h.get("authorization") == "Bearer hook-header-secret", h
    assert h.get("x-team") == "blue", h
    assert h.get("content-type") == "application/json", h
    assert h.get("x-berth-event") == json.loads(l["body"])["action"], h
print("signatures verified:", len(lines))
PY

log "the receiver is down for 30 s: what happened meanwhile arrives once it is back"
kill "${RECEIVER_PIDS[0]}"
wait "${RECEIVER_PIDS[0]}" 2>/dev/null || true
down_at=$SECONDS
make_image "$TMP/src" v3 1
make_image "$TMP/src" v4 1
push v3 v3
push v4 v4
cli webhook list-events -r default -n deploy >"$TMP/events.json"
while ((SECONDS - down_at < 30)); do sleep 1; done
receiver "$PORT" "$HOOKS"
wait_for "$HOOKS" '.action == "push" and .target.tag == "v3"' "v3 after the outage"
wait_for "$HOOKS" '.action == "push" and .target.tag == "v4"' "v4 after the outage"
cli webhook list-events -r default -n deploy >"$TMP/events.json"
retried=$(jq '[.[] | select(.eventRequestMessage.content.target.tag == "v3")][0]' "$TMP/events.json")
assert_eq "$(jq -r .state <<<"$retried")" delivered "state of the v3 delivery"
(($(jq -r .attempts <<<"$retried") > 1)) || fail "the v3 delivery was not retried: $retried"
assert_eq "$(jq -r .eventResponseMessage.status <<<"$retried")" 200 "last answer of the v3 delivery"

log "the hanging receiver slowed no push, and its attempts time out"
[[ -s "$TMP/hang.jsonl" ]] || fail "the hanging receiver got nothing"
for _ in $(seq 100); do
  hang=$(cli webhook list-events -r default -n hanging)
  jq -e '[.[] | select(.error != null and (.error | test("[Tt]ime")))] | length > 0' <<<"$hang" >/dev/null && break
  sleep 0.1
done
jq -e '[.[] | select(.error != null and (.error | test("[Tt]ime")))] | length > 0' <<<"$hang" >/dev/null ||
  fail "no timed-out attempt to the hanging receiver: $hang"

log "the webhook scoped to other/* heard nothing of e2e/hooked"
[[ ! -s "$TMP/other.jsonl" ]] || fail "the scoped webhook got: $(cat "$TMP/other.jsonl")"

log "pulls are audited only once the registry asks for it"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/e2e/hooked:v4" "oci:$TMP/back:v4"
cli registry update -n default --audit-pulls-enabled true >/dev/null
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/e2e/hooked:v3" "oci:$TMP/back:v3"

log "a refused login, then the audit log"
http GET /v2/ -u "default:not-the-password"
expect_status 401 "a wrong password"
sleep 0.5
audit=$(cli audit list -r default --top 1000 -o json)
has() {
  jq -e "[.[] | select($1)] | length > 0" <<<"$audit" >/dev/null || fail "no audit record with $1: $audit"
}
has '.action == "manifest.push" and .identity == "admin" and .target == "e2e/hooked:v1" and .outcome == "success"'
has ".action == \"manifest.delete\" and .identity == \"admin\" and .target == \"e2e/hooked@$d2\""
has '.action == "blob.push" and .identity == "admin"'
has '.action == "webhook.create" and .identity == "operator" and .target == "deploy"'
has '.action == "webhook.ping" and .identity == "operator"'
has '.action == "login" and .identity == "default" and .outcome == "failure" and .status == 401'
has '.action == "login" and .identity == "admin" and .outcome == "success"'
has '.source == "127.0.0.1" and (.userAgent | test("skopeo"))'
has '.action == "manifest.pull" and .target == "e2e/hooked:v3" and .identity == "admin"'
has '.action == "blob.pull" and .identity == "admin"'
if jq -e '[.[] | select(.action == "manifest.pull" and .target == "e2e/hooked:v4")] | length > 0' \
  <<<"$audit" >/dev/null; then
  fail "a pull was audited before the registry asked for it"
fi
all=$(cli audit list --top 1000 -o json)
jq -e '[.[] | select(.action == "registry.update" and .identity == "operator")] | length > 0' <<<"$all" >/dev/null ||
  fail "the deployment's audit has no registry.update: $all"
only_login=$(cli audit list -r default --action login -o json)
jq -e 'all(.[]; .action == "login") and length > 0' <<<"$only_login" >/dev/null ||
  fail "--action login: $only_login"

log "the export has the same records, one JSON object a line"
[[ -s "$AUDIT_FILE" ]] || fail "no audit export in $AUDIT_FILE"
jq -e -s '[.[] | select(.action == "manifest.push" and .target == "e2e/hooked:v1")] | length > 0' \
  "$AUDIT_FILE" >/dev/null || fail "the export lacks the push of v1"

log "no secret in the audit log, its export or the server's log"
for secret in "$REG_PASS" "$SECRET" "$BERTH_OPERATOR_TOKEN" hook-header-secret not-the-password; do
  for where in "$AUDIT_FILE" "$TMP/server.log" "$TMP/server.out"; do
    if grep -qF -- "$secret" "$where"; then fail "a secret appears in $where"; fi
  done
  if grep -qF -- "$secret" <<<"$all"; then fail "a secret appears in berth audit list"; fi
done
