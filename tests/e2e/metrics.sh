#!/usr/bin/env bash
# Prometheus metrics with real clients: skopeo and podman push and pull, then /metrics is
# scraped and checked by promtool; the series name the routes by their templates, count the
# bytes, the caches and the store calls, and never a repository or a user. A registry's login
# server has no /metrics; with metrics_listen it moves to its own listener, and "metrics": false
# turns it off.
# Usage: metrics.sh /path/to/berth
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
if [[ -n "${E2E_REGISTRY:-}" ]]; then
  echo "SKIP [$TEST_NAME]: scrapes the metrics of a berth it starts (E2E_REGISTRY is set)"
  exit 77
fi
command -v promtool >/dev/null || fail "promtool is missing (Debian package prometheus)"
e2e_start "$@"

# value SERIES: the sample of one series line of the last scrape ("" when absent).
value() { grep -F "$1 " "$TMP/metrics.txt" | head -n 1 | awk '{print $NF}' || true; }
# positive SERIES WHAT
positive() {
  local v
  v=$(value "$1")
  [[ -n "$v" ]] || fail "$2: no series $1"
  awk -v v="$v" 'BEGIN { exit !(v > 0) }' || fail "$2: $1 is $v"
}
scrape() {
  http GET "${1:-/metrics}"
  expect_status 200 "GET ${1:-/metrics}"
  cp "$TMP/http.body" "$TMP/metrics.txt"
  case "$(header Content-Type)" in
    text/plain*version=0.0.4*) ;;
    *) fail "Content-Type of /metrics: $(header Content-Type)" ;;
  esac
}

log "push and pull with skopeo and podman"
make_image "$TMP/src" v1 2
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:v1" "docker://$REG/secret-team/app:v1"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/secret-team/app:v1" "oci:$TMP/back:v1"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/secret-team/app:v1" "oci:$TMP/again:v1"
podman_pull "$REG/secret-team/app:v1" >/dev/null
curl -s -o /dev/null -u "nobody:wrong" "http://$REG/v2/"

scrape
log "promtool check metrics"
promtool check metrics <"$TMP/metrics.txt" || fail "promtool rejects the exposition"

manifest_get='berth_http_requests_total{method="GET",plane="registry",route="/v2/{name}/manifests/{reference}",status="2xx"}'
positive "$manifest_get" "manifest GETs"
positive 'berth_http_requests_total{method="PUT",plane="registry",route="/v2/{name}/manifests/{reference}",status="2xx"}' "manifest PUTs"
positive 'berth_http_request_duration_seconds_count{method="GET",plane="registry",route="/v2/{name}/blobs/{digest}",status="2xx"}' "blob GET latency"
positive 'berth_http_request_bytes_total{plane="registry"}' "bytes in"
positive 'berth_http_response_bytes_total{plane="registry"}' "bytes out"
positive 'berth_cache_hits_total{cache="manifests"}' "manifest cache hits"
positive 'berth_blob_store_operation_duration_seconds_count{op="open"}' "blob store opens"
positive 'berth_blob_store_operation_duration_seconds_count{op="write"}' "blob store writes"
positive 'berth_metadata_operation_duration_seconds_count{op="putManifest"}' "metadata putManifest"
positive 'berth_auth_failures_total{reason="bad_credentials"}' "refused credentials"
positive 'berth_connections_accepted_total' "connections accepted"
positive 'berth_connections_open' "connections open (this scrape's)"
positive 'process_resident_memory_bytes' "RSS"
positive 'process_open_fds' "descriptors"
[[ -n "$(value 'berth_uploads_in_progress')" ]] || fail "no berth_uploads_in_progress"
for pool in blocking stream; do
  [[ -n "$(value "berth_pool_requests{pool=\"$pool\"}")" ]] || fail "no berth_pool_requests of $pool"
done
[[ -n "$(value 'berth_pool_refused_total')" ]] || fail "no berth_pool_refused_total"
[[ -n "$(value 'process_cpu_seconds_total')" ]] || fail "no process_cpu_seconds_total"
if grep -q -e 'secret-team' -e "$REG_USER" "$TMP/metrics.txt"; then
  fail "a repository or user name is in the metrics: $(grep -e 'secret-team' -e "$REG_USER" "$TMP/metrics.txt" | head -3)"
fi
if grep -q 'registry="' "$TMP/metrics.txt"; then fail "registry labels without metrics_registry_label"; fi

log "a registry's login server has no /metrics"
http GET /metrics -H "Host: default.localhost:${REG##*:}"
[[ "$HTTP_STATUS" == 404 ]] || fail "GET /metrics at a login server: HTTP $HTTP_STATUS (want 404)"

log "restart with metrics_listen and the registry label"
stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || fail "berth exited with status $? after SIGTERM"
  SERVER_PID=""
}
start_server() {
  setsid "$BERTH" serve --listen "$REG" --data "$DATA" --config "$1" >>"$TMP/server.out" 2>>"$TMP/server.log" &
  SERVER_PID=$!
  for ((i = 0; i < 100; i++)); do
    curl -fsS -o /dev/null --max-time 2 "http://$REG/healthz" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "berth did not come back with $(cat "$1")"
}
stop_server
mport=$(free_port)
echo "{\"metrics_listen\": \"127.0.0.1:$mport\", \"metrics_registry_label\": true}" >"$TMP/config.json"
start_server "$TMP/config.json"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/secret-team/app:v1" "oci:$TMP/third:v1"
http GET /metrics
[[ "$HTTP_STATUS" == 404 ]] || fail "GET /metrics on the main listener with metrics_listen: HTTP $HTTP_STATUS"
scrape "http://127.0.0.1:$mport/metrics"
promtool check metrics <"$TMP/metrics.txt" || fail "promtool rejects the exposition (metrics_listen)"
positive 'berth_http_requests_total{method="GET",plane="registry",registry="default",route="/v2/{name}/manifests/{reference}",status="2xx"}' "manifest GETs labelled with the registry"
http GET "http://127.0.0.1:$mport/readyz"
expect_status 200 "readyz on the metrics listener"
http GET "http://127.0.0.1:$mport/v2/"
[[ "$HTTP_STATUS" == 404 ]] || fail "the metrics listener serves /v2/: HTTP $HTTP_STATUS"

log "metrics off"
stop_server
echo '{"metrics": false}' >"$TMP/config.json"
start_server "$TMP/config.json"
http GET /metrics
[[ "$HTTP_STATUS" == 404 ]] || fail "GET /metrics with metrics off: HTTP $HTTP_STATUS"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/secret-team/app:v1" "oci:$TMP/fourth:v1"
assert_same_image "$TMP/src" v1 "$TMP/fourth" v1
