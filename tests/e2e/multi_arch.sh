#!/usr/bin/env bash
# OCI image index with linux/amd64 and linux/arm64 children: skopeo copy --all
# in and out keeps every digest; --override-arch picks the arm64 child.
# Usage: multi_arch.sh /path/to/berth   (or E2E_REGISTRY=host:port multi_arch.sh)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
e2e_start "$@"

repo=e2e/multiarch
index_type=application/vnd.oci.image.index.v1+json
manifest_type=application/vnd.oci.image.manifest.v1+json

log "build linux/amd64 and linux/arm64 images and an index over them"
make_multiarch "$TMP/src" multi
amd64_digest=$AMD64_DIGEST arm64_digest=$ARM64_DIGEST index_digest=$INDEX_DIGEST

log "skopeo copy --all -> $REG/$repo:v1"
skopeo_cmd copy --quiet --all --dest-tls-verify=false --digestfile "$TMP/push.digest" \
  "oci:$TMP/src:multi" "docker://$REG/$repo:v1"
assert_eq "$(cat "$TMP/push.digest")" "$index_digest" "digest reported by skopeo push"
digest=$(remote_digest "$repo:v1")
assert_eq "$digest" "$index_digest" "digest of the index read back"

http HEAD "/v2/$repo/manifests/v1" -H "Accept: $index_type"
expect_status 200 "HEAD index by tag"
assert_eq "$(header Content-Type)" "$index_type" "Content-Type of the index"
assert_eq "$(header Docker-Content-Digest)" "$index_digest" "Docker-Content-Digest of the index"
for d in "$amd64_digest" "$arm64_digest"; do
  http GET "/v2/$repo/manifests/$d" -H "Accept: $manifest_type"
  expect_status 200 "GET child manifest $d"
  assert_eq "$(body | sha256)" "$d" "bytes of child manifest $d"
  assert_eq "$(header Content-Type)" "$manifest_type" "Content-Type of child manifest $d"
done

log "skopeo copy --all back out"
skopeo_cmd copy --quiet --all --src-tls-verify=false "docker://$REG/$repo:v1" "oci:$TMP/back:multi"
assert_eq "$(layout_digest "$TMP/back" multi)" "$index_digest" "index digest copied back"
for d in "$amd64_digest" "$arm64_digest"; do
  m=$(layout_blob "$TMP/back" "$d")
  [[ -f "$m" ]] || fail "child manifest $d missing from the copied-back layout"
  assert_eq "$(file_digest "$m")" "$d" "child manifest $d copied back"
  for b in $(manifest_blobs "$m"); do
    assert_eq "$(file_digest "$(layout_blob "$TMP/back" "$b")")" "$b" "blob $b of child $d copied back"
  done
done

log "skopeo copy --override-arch arm64"
skopeo_cmd --override-arch arm64 --override-os linux copy --quiet --src-tls-verify=false \
  "docker://$REG/$repo:v1" "oci:$TMP/arm:v1"
assert_eq "$(layout_digest "$TMP/arm" v1)" "$arm64_digest" "digest of the arm64 child"
assert_eq "$(jq -r .architecture "$(layout_config "$TMP/arm" v1)")" arm64 "architecture in the pulled config"
