#!/usr/bin/env bash
# OCI 1.1 artifacts with a subject: pushed with curl next to an image pushed
# by skopeo, read back by skopeo, listed by the referrers API (with and
# without the artifactType filter).
# Usage: artifact_referrer.sh /path/to/berth   (or E2E_REGISTRY=host:port artifact_referrer.sh)
# Needs the referrers API and OCI-Subject: distribution 2.8.2 fails at that step.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
e2e_start "$@"

repo=e2e/app
manifest_type=application/vnd.oci.image.manifest.v1+json
index_type=application/vnd.oci.image.index.v1+json
sbom_type=application/vnd.example.sbom.v1
sig_type=application/vnd.example.signature.v1

log "skopeo push the subject image"
make_image "$TMP/src" v1 1
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:v1" "docker://$REG/$repo:v1"
subject=$(layout_digest "$TMP/src" v1)
subject_size=$(stat -c %s "$(layout_manifest "$TMP/src" v1)")

# push_artifact NAME ARTIFACT_TYPE: upload the empty config and one JSON layer
# with curl, PUT an artifact manifest whose subject is the image (by digest).
# Leaves the manifest in $TMP/NAME.json; PUT response in $TMP/NAME.headers.
push_artifact() {
  local name=$1 type=$2 digest
  printf '{}' >"$TMP/empty.json"
  jq -n --arg n "$name" --arg t "$RANDOM$RANDOM" '{name: $n, nonce: $t, packages: [{name: "busybox", version: "1.36"}]}' \
    >"$TMP/$name.layer.json"
  upload_blob "$repo" "$TMP/empty.json"
  upload_blob "$repo" "$TMP/$name.layer.json"
  jq -n --arg mt "$manifest_type" --arg at "$type" --arg name "$name" \
    --arg ld "$(file_digest "$TMP/$name.layer.json")" --argjson ls "$(stat -c %s "$TMP/$name.layer.json")" \
    --arg sd "$subject" --argjson ss "$subject_size" \
    '{schemaVersion: 2, mediaType: $mt, artifactType: $at,
      config: {mediaType: "application/vnd.oci.empty.v1+json",
               digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", size: 2, data: "e30="},
      layers: [{mediaType: ($at + "+json"), digest: $ld, size: $ls}],
      subject: {mediaType: $mt, digest: $sd, size: $ss},
      annotations: {"org.opencontainers.image.created": "2024-01-02T03:04:05Z", "org.example.name": $name}}' \
    >"$TMP/$name.json"
  digest=$(file_digest "$TMP/$name.json")
  put_manifest "$repo" "$digest" "$TMP/$name.json" "$manifest_type"
  expect_status 201 "PUT artifact manifest $name"
  assert_eq "$(header Docker-Content-Digest)" "$digest" "Docker-Content-Digest of artifact $name"
  cp "$TMP/http.headers" "$TMP/$name.headers"
}

log "curl push two artifacts (sbom, signature) referring to $subject"
push_artifact sbom "$sbom_type"
push_artifact sig "$sig_type"
sbom=$(file_digest "$TMP/sbom.json")
sig=$(file_digest "$TMP/sig.json")

log "skopeo reads the artifact back"
skopeo_cmd inspect --raw --tls-verify=false "docker://$REG/$repo@$sbom" >"$TMP/sbom.back.json"
cmp -s "$TMP/sbom.back.json" "$TMP/sbom.json" || fail "skopeo inspect --raw: artifact bytes differ"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/$repo@$sbom" "oci:$TMP/art:sbom"
assert_eq "$(layout_digest "$TMP/art" sbom)" "$sbom" "digest of the artifact copied out"
for b in $(manifest_blobs "$TMP/sbom.json"); do
  assert_eq "$(file_digest "$(layout_blob "$TMP/art" "$b")")" "$b" "blob $b of the artifact copied out"
done

log "OCI-Subject on the PUT responses"
for name in sbom sig; do
  got=$(grep -i '^OCI-Subject:' "$TMP/$name.headers" | cut -d: -f2- | tr -d '\r ' || true)
  assert_eq "$got" "$subject" "OCI-Subject header on PUT of artifact $name"
done

# referrers [QUERY]: GET the referrers of the subject; checks status and Content-Type.
referrers() {
  http GET "/v2/$repo/referrers/$subject$1"
  expect_status 200 "GET referrers$1"
  assert_eq "$(header Content-Type)" "$index_type" "Content-Type of referrers$1"
  assert_eq "$(body | jq .schemaVersion)" 2 "schemaVersion of referrers$1"
}

log "referrers API lists both artifacts"
referrers ""
assert_eq "$(body | jq -r '[.manifests[].digest] | sort | join(" ")')" "$(printf '%s\n' "$sbom" "$sig" | sort | paste -sd' ')" \
  "digests listed by referrers"
entry=$(body | jq -c --arg d "$sbom" '.manifests[] | select(.digest == $d)')
assert_eq "$(jq -r .mediaType <<<"$entry")" "$manifest_type" "mediaType of the sbom referrer"
assert_eq "$(jq -r .artifactType <<<"$entry")" "$sbom_type" "artifactType of the sbom referrer"
assert_eq "$(jq -r .size <<<"$entry")" "$(stat -c %s "$TMP/sbom.json")" "size of the sbom referrer"
assert_eq "$(jq -cS .annotations <<<"$entry")" "$(jq -cS .annotations "$TMP/sbom.json")" "annotations of the sbom referrer"

log "referrers ?artifactType= filter"
referrers "?artifactType=$sbom_type"
assert_eq "$(header OCI-Filters-Applied)" artifactType "OCI-Filters-Applied with a matching filter"
assert_eq "$(body | jq -r '[.manifests[].digest] | join(" ")')" "$sbom" "referrers filtered on $sbom_type"
referrers "?artifactType=application/vnd.example.none"
assert_eq "$(header OCI-Filters-Applied)" artifactType "OCI-Filters-Applied with a non-matching filter"
assert_eq "$(body | jq '.manifests | length')" 0 "referrers filtered on an unused artifactType"

log "referrers of a digest nothing refers to"
http GET "/v2/$repo/referrers/sha256:$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)"
expect_status 200 "GET referrers of an unknown subject"
assert_eq "$(body | jq '.manifests | length')" 0 "referrers of an unknown subject"
