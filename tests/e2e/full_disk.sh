#!/usr/bin/env bash
# A full disk with real clients: berth's data directory is a small tmpfs; once it is full,
# skopeo's push fails with the message that the disk is full (507), as do a new user and a
# sign-in on the control API (nothing half stored), skopeo and podman still pull what is there,
# skopeo deletes a tag, and once space is back the refused image and user go in.
# Usage: full_disk.sh /path/to/berth   (as root: it mounts the tmpfs)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
if [[ -n "${E2E_REGISTRY:-}" ]]; then
  echo "SKIP [$TEST_NAME]: puts berth's data directory on a tmpfs of its own (E2E_REGISTRY is set)"
  exit 77
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP [$TEST_NAME]: mounting the tmpfs that plays the full disk needs root"
  exit 77
fi
e2e_data_created() { mount -t tmpfs -o size=48m tmpfs "$1"; }
e2e_data_stopped() { umount -l "$1" 2>/dev/null || true; }
CONFIG=$(mktemp /tmp/berth-full-disk-XXXXXX.json)
echo '{"disk_reserve_bytes": 4194304}' >"$CONFIG"
E2E_SERVE_ARGS=(--config "$CONFIG")
e2e_start "$@"
rm -f "$CONFIG"

make_image "$TMP/src" v1 2
log "push v1 while there is room"
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:v1" "docker://$REG/e2e/full:v1"
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:v1" "docker://$REG/e2e/full:keep"

log "fill the disk"
dd if=/dev/zero of="$DATA/filler" bs=1M status=none 2>/dev/null || true
make_image "$TMP/src" v2 1
head -c $((2 * 1024 * 1024)) /dev/urandom >"$TMP/big.bin"
umoci insert --rootless --image "$TMP/src:v2" "$TMP/big.bin" /data/big.bin
if out=$(skopeo_cmd copy --dest-tls-verify=false "oci:$TMP/src:v2" "docker://$REG/e2e/full:v2" 2>&1); then
  fail "a push onto a full disk succeeded"
fi
log "refused: $(tail -n 1 <<<"$out")"
# containers/image reads the error body of 4xx replies only: for a 5xx it prints the status line,
# whose reason phrase says it. The body's message, for clients that read it, is checked by curl.
grep -q "507 Insufficient Storage" <<<"$out" ||
  fail "skopeo's error does not say the storage is insufficient: $out"
head -c 65536 /dev/urandom >"$TMP/small.bin"
http POST "/v2/e2e/full/blobs/uploads/?digest=$(sha256 <"$TMP/small.bin")" \
  --data-binary "@$TMP/small.bin" -H 'Content-Type: application/octet-stream'
expect_status 507 "a monolithic upload onto the full disk"
jq -e '.errors[0].message | test("disk holding the registry.s data is full")' "$TMP/http.body" \
  >/dev/null || fail "the 507's message does not say the disk is full: $(body)"
[[ -z "$(ls -A "$DATA/registries/default/uploads")" ]] || fail "the refused upload left files behind"

log "the control plane on the full disk: a new user and a sign-in refused with 507, nothing stored"
control_api POST /api/v1/users '{"name":"late","password":"late-password-1"}'
expect_status 507 "a user created on the full disk"
jq -e '.error.code == "INSUFFICIENT_STORAGE" and (.error.message | test("disk full"))' \
  "$TMP/http.body" >/dev/null || fail "the 507 does not say the disk is full: $(body)"
status=$(curl -sS --max-time 60 -o "$TMP/http.body" -w '%{http_code}' -X POST \
  -H 'Content-Type: application/json' -H 'X-Berth-Request: 1' \
  --data-binary '{"operatorToken":"'"$(<"$DATA/operator-token")"'"}' "http://$REG/api/v1/session")
assert_eq "$status" 507 "a portal sign-in on the full disk"
control_api GET /api/v1/users/late
expect_status 404 "the user refused on the full disk"

log "pulls go on"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/e2e/full:v1" "oci:$TMP/back:v1"
assert_same_image "$TMP/src" v1 "$TMP/back" v1
podman_id=$(podman_pull "$REG/e2e/full:v1")
[[ -n "$podman_id" ]] || fail "podman pull of v1 printed no image id"

log "a delete works on the full disk"
skopeo_cmd delete --tls-verify=false "docker://$REG/e2e/full:v1"
if skopeo_cmd inspect --raw --tls-verify=false "docker://$REG/e2e/full:v1" >/dev/null 2>&1; then
  fail "v1 is still there after skopeo delete"
fi

log "space back: the refused image goes in, and the user"
rm -f "$DATA/filler"
control_api POST /api/v1/users '{"name":"late","password":"late-password-1"}'
expect_status 201 "the user once space is back"
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:v2" "docker://$REG/e2e/full:v2"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/e2e/full:v2" "oci:$TMP/back:v2"
assert_same_image "$TMP/src" v2 "$TMP/back" v2
