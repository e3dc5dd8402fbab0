#!/usr/bin/env bash
# Docker schema 2 manifests: skopeo converts on push (--format v2s2), the
# registry serves the Docker media type, skopeo reads back the same digest,
# and the docker CLI (daemonless `docker manifest inspect`) sees it.
# Usage: docker_v2s2.sh /path/to/berth   (or E2E_REGISTRY=host:port docker_v2s2.sh)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
e2e_start "$@"

repo=e2e/docker
v2s2=application/vnd.docker.distribution.manifest.v2+json

log "build a two-layer image and push it as Docker schema 2"
make_image "$TMP/src" v1 2
skopeo_cmd copy --quiet --format v2s2 --dest-tls-verify=false --digestfile "$TMP/push.digest" \
  "oci:$TMP/src:v1" "docker://$REG/$repo:v1"
pushed=$(cat "$TMP/push.digest")
[[ "$pushed" == sha256:* ]] || fail "skopeo push wrote no digest: '$pushed'"
[[ "$pushed" != "$(layout_digest "$TMP/src" v1)" ]] || fail "manifest was not converted (same digest as the OCI source)"

log "HEAD/GET the manifest with a Docker Accept header"
http HEAD "/v2/$repo/manifests/v1" -H "Accept: $v2s2"
expect_status 200 "HEAD manifest"
assert_eq "$(header Content-Type)" "$v2s2" "Content-Type of the manifest"
assert_eq "$(header Docker-Content-Digest)" "$pushed" "Docker-Content-Digest of the manifest"
http GET "/v2/$repo/manifests/$pushed" -H "Accept: $v2s2"
expect_status 200 "GET manifest by digest"
assert_eq "$(header Content-Type)" "$v2s2" "Content-Type of the manifest by digest"
assert_eq "$(body | sha256)" "$pushed" "bytes of the manifest by digest"
cp "$TMP/http.body" "$TMP/manifest.json"
assert_eq "$(jq -r .mediaType "$TMP/manifest.json")" "$v2s2" "mediaType inside the manifest"
assert_eq "$(jq -r '.layers[].digest' "$TMP/manifest.json")" \
  "$(jq -r '.layers[].digest' "$(layout_manifest "$TMP/src" v1)")" "layer digests after conversion"
assert_eq "$(jq -r '[.layers[].mediaType] | unique | .[]' "$TMP/manifest.json")" \
  application/vnd.docker.image.rootfs.diff.tar.gzip "layer media type after conversion"

log "skopeo reads it back with the same digest"
digest=$(remote_digest "$repo:v1")
assert_eq "$digest" "$pushed" "digest from skopeo inspect --raw"
skopeo_cmd copy --quiet --preserve-digests --src-tls-verify=false "docker://$REG/$repo:v1" "dir:$TMP/back"
assert_eq "$(file_digest "$TMP/back/manifest.json")" "$pushed" "digest of the manifest copied to dir:"
for b in $(manifest_blobs "$TMP/back/manifest.json"); do
  assert_eq "$(file_digest "$TMP/back/${b#sha256:}")" "$b" "blob $b copied to dir:"
done

log "docker manifest inspect --insecure"
docker_manifest_inspect "$REG/$repo:v1" >"$TMP/docker-inspect.json" ||
  fail "docker manifest inspect failed"
assert_eq "$(jq -r .Descriptor.digest "$TMP/docker-inspect.json")" "$pushed" "digest seen by docker"
assert_eq "$(jq -r .Descriptor.mediaType "$TMP/docker-inspect.json")" "$v2s2" "media type seen by docker"
assert_eq "$(jq -r '.SchemaV2Manifest.layers[].digest' "$TMP/docker-inspect.json")" \
  "$(jq -r '.layers[].digest' "$TMP/manifest.json")" "layers seen by docker"
