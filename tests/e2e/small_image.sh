#!/usr/bin/env bash
# One-layer OCI image: skopeo push/pull round trip, podman pull, podman push
# to a multi-level repository name, skopeo pull of that.
# Usage: small_image.sh /path/to/berth   (or E2E_REGISTRY=host:port small_image.sh)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
e2e_start "$@"

log "build a one-layer image"
make_image "$TMP/src" v1 1
src_digest=$(layout_digest "$TMP/src" v1)

log "skopeo push oci -> $REG/e2e/small:v1"
skopeo_cmd copy --quiet --dest-tls-verify=false --digestfile "$TMP/push.digest" \
  "oci:$TMP/src:v1" "docker://$REG/e2e/small:v1"
assert_eq "$(cat "$TMP/push.digest")" "$src_digest" "digest reported by skopeo push"
digest=$(remote_digest e2e/small:v1)
assert_eq "$digest" "$src_digest" "digest of manifest read back by tag"

http HEAD /v2/e2e/small/manifests/v1 -H 'Accept: application/vnd.oci.image.manifest.v1+json'
expect_status 200 "HEAD manifest by tag"
assert_eq "$(header Docker-Content-Digest)" "$src_digest" "Docker-Content-Digest on HEAD"
assert_eq "$(header Content-Type)" "application/vnd.oci.image.manifest.v1+json" "Content-Type on HEAD"

log "skopeo pull back into a new layout"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/e2e/small:v1" "oci:$TMP/back:v1"
assert_same_image "$TMP/src" v1 "$TMP/back" v1

log "podman pull"
podman_pull "$REG/e2e/small:v1" >/dev/null
digest=$(podman_cmd image inspect --format '{{.Digest}}' "$REG/e2e/small:v1")
assert_eq "$digest" "$src_digest" "podman image inspect digest"

log "podman push -> $REG/team/app/web:v2"
podman_push --digestfile "$TMP/podman-push.digest" "$REG/e2e/small:v1" "docker://$REG/team/app/web:v2"
pushed=$(cat "$TMP/podman-push.digest")
[[ "$pushed" == sha256:* ]] || fail "podman push wrote no digest: '$pushed'"
digest=$(remote_digest team/app/web:v2)
assert_eq "$digest" "$pushed" "digest of team/app/web:v2 read back"

log "skopeo pull team/app/web:v2"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/team/app/web:v2" "oci:$TMP/web:v2"
assert_eq "$(layout_digest "$TMP/web" v2)" "$pushed" "digest of team/app/web:v2 pulled by skopeo"
# Same filesystem content: podman may recompress layers, but the config's diff_ids must match.
assert_eq "$(jq -c .rootfs "$(layout_config "$TMP/web" v2)")" "$(jq -c .rootfs "$(layout_config "$TMP/src" v1)")" \
  "rootfs diff_ids after podman push"
