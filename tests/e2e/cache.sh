#!/usr/bin/env bash
# The pull-through cache (`berth cache`, as ACR's cache rules) in front of the reference
# registry behind htpasswd: a pull that misses comes from the upstream (skopeo reads the same
# digests) and each blob is fetched from it once, however many pull at once; later pulls are
# served by berth alone; a tag moved upstream is seen once the cached one is older than
# cache_tag_ttl_seconds; with the upstream stopped, and with one answering 429, the last known
# tag is still served, marked stale (X-Berth-Cache: stale, Warning: 110).
# Usage: cache.sh /path/to/berth
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
UP_PORT=$(free_port)
UP=127.0.0.1:$UP_PORT
e2e_start_configured '{"upstream_allow_loopback": true, "upstream_insecure_registries": "127.0.0.1",
  "cache_tag_ttl_seconds": 2}' "$@"

UP_PID=""
start_upstream() {
  reference_start "$UP" "$TMP/upstream" "$TMP/upstream.log" --htpasswd "$TMP/htpasswd"
  UP_PID=$REFERENCE_PID
}
stop_upstream() { kill -TERM "$UP_PID" 2>/dev/null && wait "$UP_PID" 2>/dev/null || true; }
AT_EXIT+=(stop_upstream)
blob_gets() { grep -c '"GET /v2/team/[a-z]*/blobs/' "$TMP/upstream.log" || true; }

log "the upstream: the reference registry on $UP behind htpasswd, with an index and an image"
htpasswd -Bbc "$TMP/htpasswd" mirror 'upstream-pass' 2>/dev/null
start_upstream
make_multiarch "$TMP/src" multi
make_image "$TMP/src" other 3
skopeo_cmd copy --quiet --all --dest-tls-verify=false --dest-creds mirror:upstream-pass \
  "oci:$TMP/src:multi" "docker://$UP/team/app:v1"
skopeo_cmd copy --quiet --dest-tls-verify=false --dest-creds mirror:upstream-pass \
  "oci:$TMP/src:other" "docker://$UP/team/other:v1"

log "a credential set and a cache rule: hub/* pulls from $UP/team/*"
printf 'upstream-pass\n' >"$TMP/up-password"
cli credential-set create -r default -n up --login-server "$UP" -u mirror \
  --password-file "$TMP/up-password" >/dev/null
cli cache create -r default -n team --source-repo "$UP/team/*" --target-repo 'hub/*' \
  --credential-set up >"$TMP/rule.json"
assert_eq "$(jq -r .targetRepository "$TMP/rule.json")" 'hub/*' "the rule's target"
cli cache list -r default | jq -e 'length == 1' >/dev/null || fail "cache list"

log "a miss: skopeo pulls the index through berth"
skopeo_cmd copy --quiet --all --src-tls-verify=false "docker://$REG/hub/app:v1" "oci:$TMP/back:multi"
assert_eq "$(layout_digest "$TMP/back" multi)" "$INDEX_DIGEST" "the index pulled through the cache"
for d in "$AMD64_DIGEST" "$ARM64_DIGEST"; do
  for b in $(manifest_blobs "$(layout_blob "$TMP/back" "$d")"); do
    assert_eq "$(file_digest "$(layout_blob "$TMP/back" "$b")")" "$b" "blob $b of $d"
  done
done

log "four pulls of another image at once: one upstream fetch per blob"
before=$(blob_gets)
pulls=()
for i in 1 2 3 4; do
  skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/hub/other:v1" "oci:$TMP/p$i:v1" &
  pulls+=($!)
done
for pid in "${pulls[@]}"; do wait "$pid" || fail "a concurrent pull failed"; done
for i in 1 2 3 4; do
  assert_eq "$(layout_digest "$TMP/p$i" v1)" "$(layout_digest "$TMP/src" other)" "pull $i"
done
# The image is stored once its blobs are: then berth answers without the upstream.
for _ in $(seq 100); do
  http HEAD "/v2/hub/other/manifests/v1"
  [[ "$(header X-Berth-Cache)" == hit ]] && break
  sleep 0.1
done
assert_eq "$(header X-Berth-Cache)" hit "the stored image"
assert_eq "$(($(blob_gets) - before))" 4 "upstream blob GETs for four concurrent pulls (config, 3 layers)"
before=$(blob_gets)
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/hub/other:v1" "oci:$TMP/p5:v1"
assert_eq "$(($(blob_gets) - before))" 0 "upstream blob GETs of a pull the cache has"

log "a tag moved upstream is seen once the cached one is older than its TTL"
skopeo_cmd copy --quiet --dest-tls-verify=false --dest-creds mirror:upstream-pass \
  "oci:$TMP/src:amd64" "docker://$UP/team/other:v1"
sleep 2.2
assert_eq "$(remote_digest hub/other:v1)" "$AMD64_DIGEST" "the moved tag through the cache"

log "the upstream stopped: the last known tag is served, marked stale"
for _ in $(seq 100); do
  http HEAD "/v2/hub/other/manifests/v1"
  [[ "$(header X-Berth-Cache)" == hit ]] && break
  sleep 0.1
done
stop_upstream
sleep 2.2
http GET "/v2/hub/other/manifests/v1" -H "Accept: application/vnd.oci.image.manifest.v1+json"
expect_status 200 "a cached tag with the upstream down"
assert_eq "$(header X-Berth-Cache)" stale "X-Berth-Cache with the upstream down"
[[ "$(header Warning)" == 110* ]] || fail "no Warning 110: $(header Warning)"
assert_eq "$(body | sha256)" "$AMD64_DIGEST" "the stale manifest"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/hub/other:v1" "oci:$TMP/down:v1"
assert_eq "$(layout_digest "$TMP/down" v1)" "$AMD64_DIGEST" "skopeo pulls with the upstream down"
http GET "/v2/hub/never/manifests/v1"
[[ "$HTTP_STATUS" == 503 ]] || fail "a miss with the upstream down: HTTP $HTTP_STATUS (want 503)"
body | jq -e --arg up "$UP" '.errors[0].message | contains("upstream " + $up)' >/dev/null ||
  fail "the miss does not name the upstream: $(body)"

log "an upstream answering 429: the stored copy again"
python3 - "$UP_PORT" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        self.send_response(429); self.send_header("Retry-After", "3600")
        self.send_header("Content-Length", "0"); self.end_headers()
    do_GET = do_HEAD = answer
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
LIMITER=$!
AT_EXIT+=("kill $LIMITER 2>/dev/null || true")
for _ in $(seq 100); do curl -s -o /dev/null "http://$UP/v2/" && break; sleep 0.1; done
http GET "/v2/hub/other/manifests/v1" -H "Accept: application/vnd.oci.image.manifest.v1+json"
expect_status 200 "a cached tag with the upstream answering 429"
assert_eq "$(header X-Berth-Cache)" stale "X-Berth-Cache with the upstream answering 429"
curl -fsS "http://$REG/metrics" 2>/dev/null | grep -q 'berth_cache_requests_total{result="stale"}' ||
  log "(no /metrics on this host)"
