#!/usr/bin/env bash
# Five-layer OCI image: skopeo and podman round trips, every blob fetched
# with curl (body hashes to its digest) and partial fetches with Range.
# Usage: multi_layer.sh /path/to/berth   (or E2E_REGISTRY=host:port multi_layer.sh)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
e2e_start "$@"

repo=e2e/multi
log "build a five-layer image"
make_image "$TMP/src" v1 5
src_digest=$(layout_digest "$TMP/src" v1)
src_manifest=$(layout_manifest "$TMP/src" v1)
assert_eq "$(jq '.layers | length' "$src_manifest")" 5 "layer count of the source image"

log "skopeo push -> $REG/$repo:v1"
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:v1" "docker://$REG/$repo:v1"
digest=$(remote_digest "$repo:v1")
assert_eq "$digest" "$src_digest" "digest of manifest read back"

log "GET and HEAD every blob with curl"
for d in $(manifest_blobs "$src_manifest"); do
  size=$(stat -c %s "$(layout_blob "$TMP/src" "$d")")
  http HEAD "/v2/$repo/blobs/$d"
  expect_status 200 "HEAD blob $d"
  assert_eq "$(header Content-Length)" "$size" "Content-Length on HEAD blob $d"
  assert_eq "$(header Docker-Content-Digest)" "$d" "Docker-Content-Digest on HEAD blob $d"
  http GET "/v2/$repo/blobs/$d"
  expect_status 200 "GET blob $d"
  assert_eq "$(body | sha256)" "$d" "sha256 of GET blob body"
  assert_eq "$(stat -c %s "$TMP/http.body")" "$size" "size of GET blob body $d"
done

log "Range requests on the largest layer"
big=$(jq -r '.layers | max_by(.size) | .digest' "$src_manifest")
big_file=$(layout_blob "$TMP/src" "$big")
size=$(stat -c %s "$big_file")
# range_check RANGE FIRST LAST: expect 206 with bytes FIRST..LAST of the blob.
range_check() {
  http GET "/v2/$repo/blobs/$big" -H "Range: bytes=$1"
  expect_status 206 "GET blob with Range: bytes=$1"
  assert_eq "$(header Content-Range)" "bytes $2-$3/$size" "Content-Range for bytes=$1"
  expected=$(dd if="$big_file" iflag=skip_bytes,count_bytes skip="$2" count=$(($3 - $2 + 1)) status=none | sha256)
  assert_eq "$(body | sha256)" "$expected" "body of Range bytes=$1"
}
range_check 1000-2999 1000 2999
range_check "$((size - 100))-" $((size - 100)) $((size - 1))
range_check -500 $((size - 500)) $((size - 1))

log "skopeo pull back"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/$repo:v1" "oci:$TMP/back:v1"
assert_same_image "$TMP/src" v1 "$TMP/back" v1

log "podman pull, push to $repo-copy:v1, skopeo pull"
podman_pull "$REG/$repo:v1" >/dev/null
digest=$(podman_cmd image inspect --format '{{.Digest}}' "$REG/$repo:v1")
assert_eq "$digest" "$src_digest" "podman image inspect digest"
podman_push --digestfile "$TMP/podman-push.digest" "$REG/$repo:v1" "docker://$REG/$repo-copy:v1"
pushed=$(cat "$TMP/podman-push.digest")
digest=$(remote_digest "$repo-copy:v1")
assert_eq "$digest" "$pushed" "digest of $repo-copy:v1 read back"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/$repo-copy:v1" "oci:$TMP/copy:v1"
assert_eq "$(layout_digest "$TMP/copy" v1)" "$pushed" "digest of $repo-copy:v1 pulled by skopeo"
assert_eq "$(jq '.layers | length' "$(layout_manifest "$TMP/copy" v1)")" 5 "layer count after podman push"

log "push from uncompressed layers (skopeo compresses on the fly: chunked PATCH, no length)"
# A separate image: skopeo's blob-info cache must not know a compressed variant
# already in the registry, or it mounts that instead of uploading.
make_image "$TMP/src" plain 3
skopeo_cmd copy --quiet --dest-decompress "oci:$TMP/src:plain" "dir:$TMP/plain"
skopeo_cmd copy --quiet --dest-tls-verify=false --digestfile "$TMP/stream.digest" \
  "dir:$TMP/plain" "docker://$REG/$repo-stream:v1"
pushed=$(cat "$TMP/stream.digest")
digest=$(remote_digest "$repo-stream:v1")
assert_eq "$digest" "$pushed" "digest of $repo-stream:v1 read back"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/$repo-stream:v1" "oci:$TMP/stream:v1"
assert_eq "$(layout_digest "$TMP/stream" v1)" "$pushed" "digest of $repo-stream:v1 pulled by skopeo"
assert_eq "$(jq -c .rootfs "$(layout_config "$TMP/stream" v1)")" "$(jq -c .rootfs "$(layout_config "$TMP/src" plain)")" \
  "rootfs diff_ids of the recompressed image"
