#!/usr/bin/env bash
# Storage quota with real clients: a registry created through the control API with a tiny
# quotaBytes, reached at <name>.<domain>:<port> (private /etc/hosts in the clients' mount
# namespace). skopeo pushes images until the clear DENIED error, whose message names the quota;
# podman's push is refused the same way; every earlier image still pulls, byte for byte; usage
# reports the quota; raising the quota lets the refused image in.
# Usage: quota.sh /path/to/berth
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
if [[ -n "${E2E_REGISTRY:-}" ]]; then
  echo "SKIP [$TEST_NAME]: starts berth itself with --domain and reads its operator token (E2E_REGISTRY is set)"
  exit 77
fi
DOMAIN=berth-e2e.test
E2E_SERVE_ARGS=(--domain "$DOMAIN")
e2e_start "$@"
PORT=${REG##*:}

QUOTA=1000000     # bytes
LAYER_KIB=300     # random, so gzip cannot shrink it: about 300 KiB stored per image
# Neither the registry's name nor the repository's says "quota": only the error may.
NAME=tiny$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
HOST=$NAME.$DOMAIN:$PORT

# make_sized_image LAYOUT TAG: one layer of LAYER_KIB random KiB.
make_sized_image() {
  local layout=$1 tag=$2 f=$TMP/layer.bin
  [[ -f "$layout/oci-layout" ]] || umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  head -c $((LAYER_KIB * 1024)) /dev/urandom >"$f"
  umoci insert --rootless --image "$layout:$tag" "$f" "/data/$tag.bin"
  rm -f "$f"
  umoci config --image "$layout:$tag" --architecture amd64 --os linux --config.cmd /bin/true \
    --author berth-e2e
  umoci gc --layout "$layout"
}

log "create registry $NAME with quotaBytes=$QUOTA"
control_api POST /api/v1/registries "{\"name\":\"$NAME\",\"adminUserEnabled\":true,\"quotaBytes\":$QUOTA}"
expect_status 201 "create registry $NAME"
assert_eq "$(jq -r .quota.storageBytes "$TMP/http.body")" "$QUOTA" "quota of the new registry"
control_api POST "/api/v1/registries/$NAME/credentials/renew" '{"name":"password"}'
expect_status 200 "renew the admin password"
PW=$(jq -er '.passwords[] | select(.name == "password") | .value' "$TMP/http.body")
resolve_in_clients "$HOST"

pushed=()
denied_output=""
for i in 1 2 3 4 5 6; do
  make_sized_image "$TMP/src" "img$i"
  log "skopeo push img$i -> $HOST/e2e/tiny:img$i"
  if out=$(skopeo_cmd copy --quiet --dest-tls-verify=false --dest-creds "$NAME:$PW" \
    "oci:$TMP/src:img$i" "docker://$HOST/e2e/tiny:img$i" 2>&1); then
    pushed+=("img$i")
  else
    denied_output=$out
    refused=img$i
    break
  fi
done
[[ -n "$denied_output" ]] || fail "six images of ${LAYER_KIB} KiB went into a quota of $QUOTA bytes"
log "refused at $refused: $(tail -n 1 <<<"$denied_output")"
((${#pushed[@]} >= 2)) || fail "the quota refused too early (after ${#pushed[@]} images): $denied_output"
grep -Eqi 'denied' <<<"$denied_output" || fail "skopeo's error does not say denied: $denied_output"
# A wrong message is reported at the end, after the checks that earlier content is intact.
problems=()
grep -Eqi 'quota' <<<"$denied_output" ||
  problems+=("skopeo's error does not name the quota: $(tail -n 1 <<<"$denied_output")")

log "podman push of the refused image is refused the same way"
podman_cmd login --tls-verify=false -u "$NAME" --password-stdin "$HOST" <<<"$PW" >/dev/null
# podman takes the image from the default registry (127.0.0.1, lib.sh's login) into its store.
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:$refused" "docker://$REG/e2e/src:$refused"
podman_id=$(podman_pull "$REG/e2e/src:$refused")
if out=$(podman_push "$podman_id" "docker://$HOST/e2e/tiny:podman" 2>&1); then
  fail "podman push beyond the quota succeeded"
fi
grep -Eqi 'quota' <<<"$out" || problems+=("podman's error does not name the quota: $(tail -n 1 <<<"$out")")

log "every image pushed before the refusal still pulls"
for tag in "${pushed[@]}"; do
  skopeo_cmd copy --quiet --src-tls-verify=false --src-creds "$NAME:$PW" \
    "docker://$HOST/e2e/tiny:$tag" "oci:$TMP/back:$tag"
  assert_same_image "$TMP/src" "$tag" "$TMP/back" "$tag"
done
podman_cmd rmi --all --force >/dev/null
podman_pull "$HOST/e2e/tiny:${pushed[0]}" >/dev/null
assert_eq "$(podman_cmd image inspect --format '{{.Digest}}' "$HOST/e2e/tiny:${pushed[0]}")" \
  "$(layout_digest "$TMP/src" "${pushed[0]}")" "podman pull of ${pushed[0]}"
if skopeo_cmd inspect --raw --tls-verify=false --creds "$NAME:$PW" \
  "docker://$HOST/e2e/tiny:$refused" >/dev/null 2>&1; then
  fail "the refused image $refused is in the registry"
fi

log "usage reports the quota and stays within it"
control_api GET "/api/v1/registries/$NAME/usage"
expect_status 200 "usage of $NAME"
size_limit=$(jq -r '.value[] | select(.name == "Size") | .limit' "$TMP/http.body")
size_used=$(jq -r '.value[] | select(.name == "Size") | .currentValue' "$TMP/http.body")
assert_eq "$size_limit" "$QUOTA" "usage Size limit"
((size_used > 0 && size_used <= QUOTA)) || fail "usage Size $size_used outside (0, $QUOTA]"

log "raise the quota; the refused image goes in"
control_api PATCH "/api/v1/registries/$NAME" "{\"quotaBytes\":$((QUOTA * 4))}"
expect_status 200 "raise the quota"
skopeo_cmd copy --quiet --dest-tls-verify=false --dest-creds "$NAME:$PW" \
  "oci:$TMP/src:$refused" "docker://$HOST/e2e/tiny:$refused"
skopeo_cmd copy --quiet --src-tls-verify=false --src-creds "$NAME:$PW" \
  "docker://$HOST/e2e/tiny:$refused" "oci:$TMP/back:$refused"
assert_same_image "$TMP/src" "$refused" "$TMP/back" "$refused"

((${#problems[@]} == 0)) || fail "$(printf '%s\n' "${problems[@]}")"
