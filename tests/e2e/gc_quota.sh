#!/usr/bin/env bash
# Deleting frees storage, with real clients: skopeo fills a small quota until the push is
# refused, deletes its images, and once garbage collection has run (a pass a second here), the
# registry's usage is down and the refused image goes in, pulled back byte for byte by skopeo
# and podman. The last pass shows on the control API.
# Usage: gc_quota.sh /path/to/berth
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
if [[ -n "${E2E_REGISTRY:-}" ]]; then
  echo "SKIP [$TEST_NAME]: starts berth with its own garbage-collection settings (E2E_REGISTRY is set)"
  exit 77
fi
CONFIG=$(mktemp /tmp/berth-gc-XXXXXX.json)
echo '{"gc_interval_seconds": 1, "gc_grace_seconds": 1}' >"$CONFIG"
E2E_SERVE_ARGS=(--config "$CONFIG")
e2e_start "$@"
rm -f "$CONFIG"

QUOTA=1000000 # bytes: three images of about 300 KiB
usage() {
  control_api GET /api/v1/registries/default/usage
  expect_status 200 "usage"
  jq -r '.value[] | select(.name == "Size") | .currentValue' "$TMP/http.body"
}

make_sized_image() {
  local layout=$1 tag=$2 f=$TMP/layer.bin
  [[ -f "$layout/oci-layout" ]] || umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  head -c $((300 * 1024)) /dev/urandom >"$f"
  umoci insert --rootless --image "$layout:$tag" "$f" "/data/$tag.bin"
  rm -f "$f"
  umoci config --image "$layout:$tag" --architecture amd64 --os linux --author berth-e2e
  umoci gc --layout "$layout"
}

control_api PATCH /api/v1/registries/default "{\"quotaBytes\":$QUOTA}"
expect_status 200 "set the quota"
base=$(usage)

pushed=()
refused=""
for i in 1 2 3 4 5 6; do
  make_sized_image "$TMP/src" "img$i"
  if out=$(skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:img$i" \
    "docker://$REG/e2e/gc:img$i" 2>&1); then
    pushed+=("img$i")
  else
    refused=img$i
    break
  fi
done
[[ -n "$refused" ]] || fail "six images of 300 KiB went into a quota of $QUOTA bytes"
grep -qi quota <<<"$out" || fail "the refusal does not name the quota: $out"
log "full at $refused after ${#pushed[*]} images; usage $(usage) of $QUOTA"

log "delete every image with skopeo"
for tag in "${pushed[@]}"; do
  skopeo_cmd delete --tls-verify=false "docker://$REG/e2e/gc:$tag"
done
freed=""
for _ in $(seq 1 100); do
  if (($(usage) <= base)); then
    freed=yes
    break
  fi
  sleep 0.2
done
[[ -n "$freed" ]] || fail "usage is still $(usage) (was $base before the pushes) 20 s after the deletes"
control_api GET /api/v1/registries/default/gc
expect_status 200 "the last garbage-collection pass"
jq -e '.lastRun.finished and .lastRun.error == null' "$TMP/http.body" >/dev/null ||
  fail "no completed pass reported: $(body)"
[[ -z "$(find "$DATA/registries/default/blobs" -type f)" ]] ||
  fail "blob files stay on disk: $(find "$DATA/registries/default/blobs" -type f | head -3)"

log "the refused image goes in now"
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:$refused" "docker://$REG/e2e/gc:$refused"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/e2e/gc:$refused" "oci:$TMP/back:$refused"
assert_same_image "$TMP/src" "$refused" "$TMP/back" "$refused"
podman_id=$(podman_pull "$REG/e2e/gc:$refused")
[[ -n "$podman_id" ]] || fail "podman pull printed no image id"
