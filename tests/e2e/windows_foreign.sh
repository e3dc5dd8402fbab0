#!/usr/bin/env bash
# Windows-style Docker schema 2 image with a foreign (non-distributable) layer
# that is never uploaded: the manifest is accepted and served unchanged; a
# manifest whose ordinary layer is missing is refused.
# Usage: windows_foreign.sh /path/to/berth   (or E2E_REGISTRY=host:port windows_foreign.sh)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
e2e_start "$@"

repo=e2e/windows
v2s2=application/vnd.docker.distribution.manifest.v2+json
foreign_digest="sha256:$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)"

# layer NAME: gzip'ed tar with one random file; prints nothing, leaves $TMP/NAME.tar(.gz).
layer() {
  mkdir -p "$TMP/$1/Files"
  head -c 20000 /dev/urandom >"$TMP/$1/Files/app.bin"
  tar -C "$TMP/$1" -cf "$TMP/$1.tar" Files
  gzip -n -c "$TMP/$1.tar" >"$TMP/$1.tar.gz"
}

# manifest OUT LAYER_TGZ CONFIG: v2s2 manifest, foreign layer first, then LAYER_TGZ.
manifest() {
  jq -n --arg mt "$v2s2" --arg fd "$foreign_digest" \
    --arg cd "$(file_digest "$3")" --argjson cs "$(stat -c %s "$3")" \
    --arg ld "$(file_digest "$2")" --argjson ls "$(stat -c %s "$2")" \
    '{schemaVersion: 2, mediaType: $mt,
      config: {mediaType: "application/vnd.docker.container.image.v1+json", digest: $cd, size: $cs},
      layers: [
        {mediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", digest: $fd, size: 1718332879,
         urls: ["https://mcr.example.invalid/v2/windows/servercore/blobs/" + $fd]},
        {mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", digest: $ld, size: $ls}]}' >"$1"
}

log "upload the config and the ordinary layer (not the foreign one)"
layer app
jq -n --arg fd "sha256:$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)" --arg ad "$(file_digest "$TMP/app.tar")" \
  '{architecture: "amd64", os: "windows", "os.version": "10.0.17763.5329",
    config: {Cmd: ["cmd", "/S", "/C", "app.exe"], WorkingDir: "C:\\app"},
    rootfs: {type: "layers", diff_ids: [$fd, $ad]},
    history: [{created_by: "Apply image 10.0.17763.5329"}, {created_by: "COPY app C:\\app"}]}' >"$TMP/config.json"
upload_blob "$repo" "$TMP/config.json"
upload_blob "$repo" "$TMP/app.tar.gz"

log "PUT the manifest"
manifest "$TMP/manifest.json" "$TMP/app.tar.gz" "$TMP/config.json"
digest=$(file_digest "$TMP/manifest.json")
put_manifest "$repo" ltsc2019 "$TMP/manifest.json" "$v2s2"
expect_status 201 "PUT manifest with a foreign layer"
assert_eq "$(header Docker-Content-Digest)" "$digest" "Docker-Content-Digest of the PUT"

log "skopeo and docker read it back"
skopeo_cmd inspect --raw --tls-verify=false "docker://$REG/$repo:ltsc2019" >"$TMP/back.json"
cmp -s "$TMP/back.json" "$TMP/manifest.json" || fail "skopeo inspect --raw: manifest bytes differ"
skopeo_cmd inspect --tls-verify=false "docker://$REG/$repo:ltsc2019" >"$TMP/inspect.json"
assert_eq "$(jq -r .Digest "$TMP/inspect.json")" "$digest" "digest from skopeo inspect"
assert_eq "$(jq -r .Os "$TMP/inspect.json")" windows "os from skopeo inspect"
docker_manifest_inspect "$REG/$repo:ltsc2019" >"$TMP/docker-inspect.json" ||
  fail "docker manifest inspect failed"
assert_eq "$(jq -r .Descriptor.digest "$TMP/docker-inspect.json")" "$digest" "digest seen by docker"
assert_eq "$(jq -c '.SchemaV2Manifest.layers[0].urls' "$TMP/docker-inspect.json")" \
  "$(jq -c '.layers[0].urls' "$TMP/manifest.json")" "foreign layer urls seen by docker"

log "a manifest whose ordinary layer was never uploaded is refused"
layer missing
manifest "$TMP/bad.json" "$TMP/missing.tar.gz" "$TMP/config.json"
put_manifest "$repo" broken "$TMP/bad.json" "$v2s2"
expect_status 400 "PUT manifest with a missing ordinary layer"
assert_eq "$(body | jq -r '.errors[0].code')" MANIFEST_BLOB_UNKNOWN "error code for the missing layer"
http GET "/v2/$repo/manifests/broken" -H "Accept: $v2s2"
expect_status 404 "GET the refused manifest's tag"
