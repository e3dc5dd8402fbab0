#!/usr/bin/env bash
# Tags and catalog as clients see them, and deletion by digest: the deleted
# manifest and its tags are gone, other tags and repositories (sharing its
# blobs) still pull.
# Usage: tags_catalog_delete.sh /path/to/berth   (or E2E_REGISTRY=host:port tags_catalog_delete.sh)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
e2e_start "$@"

push() { skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:$1" "docker://$REG/$2"; }
# tags_of REPO: tags skopeo lists, sorted (lexical order is for the API tests to check).
tags_of() { skopeo_cmd list-tags --tls-verify=false "docker://$REG/$1" | jq -c ".Tags | sort"; }
# pulls REF DIGEST: skopeo copies REF out and gets DIGEST.
pulls() {
  rm -rf "$TMP/pull"
  skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/$1" "oci:$TMP/pull:x" ||
    fail "skopeo could not pull $1"
  assert_eq "$(layout_digest "$TMP/pull" x)" "$2" "digest of $1 pulled"
}
# gone REF: manifest GET answers 404 MANIFEST_UNKNOWN.
gone() {
  http GET "/v2/${1%%[:@]*}/manifests/${1#*[:@]}" -H 'Accept: application/vnd.oci.image.manifest.v1+json'
  expect_status 404 "GET deleted $1"
  assert_eq "$(body | jq -r '.errors[0].code')" MANIFEST_UNKNOWN "error code for deleted $1"
}

log "push img1 as e2e/tags:1.0, :latest and e2e/other:v1; img2 as e2e/tags:2.0, img3 as e2e/tags:3.0-rc1"
make_image "$TMP/src" img1 2
make_image "$TMP/src" img2 1
make_image "$TMP/src" img3 1
img1=$(layout_digest "$TMP/src" img1)
img2=$(layout_digest "$TMP/src" img2)
img3=$(layout_digest "$TMP/src" img3)
push img1 e2e/tags:1.0
push img1 e2e/tags:latest
push img2 e2e/tags:2.0
push img3 e2e/tags:3.0-rc1
push img1 e2e/other:v1

log "skopeo list-tags and the catalog"
assert_eq "$(tags_of e2e/tags)" '["1.0","2.0","3.0-rc1","latest"]' "tags of e2e/tags"
assert_eq "$(tags_of e2e/other)" '["v1"]' "tags of e2e/other"
http GET /v2/_catalog
expect_status 200 "GET /v2/_catalog"
repos=$(body | jq -c '[.repositories[] | select(. == "e2e/tags" or . == "e2e/other")]')
assert_eq "$repos" '["e2e/other","e2e/tags"]' "e2e repositories in the catalog (lexical order)"
if [[ -n "$SERVER_PID" ]]; then
  assert_eq "$(body | jq -c .repositories)" '["e2e/other","e2e/tags"]' "catalog of a fresh registry"
fi

log "skopeo delete e2e/tags@img2"
skopeo_cmd delete --tls-verify=false "docker://$REG/e2e/tags@$img2"
gone "e2e/tags@$img2"
gone e2e/tags:2.0
assert_eq "$(tags_of e2e/tags)" '["1.0","3.0-rc1","latest"]' "tags of e2e/tags after deleting img2"
pulls e2e/tags:1.0 "$img1"
pulls e2e/tags:3.0-rc1 "$img3"
pulls e2e/other:v1 "$img1"

log "skopeo delete e2e/other@img1 leaves e2e/tags:1.0 (same blobs) intact"
skopeo_cmd delete --tls-verify=false "docker://$REG/e2e/other@$img1"
gone e2e/other:v1
pulls e2e/tags:1.0 "$img1"
pulls e2e/tags:latest "$img1"
for b in $(manifest_blobs "$(layout_manifest "$TMP/src" img1)"); do
  http HEAD "/v2/e2e/tags/blobs/$b"
  expect_status 200 "HEAD blob $b of e2e/tags after deleting e2e/other@img1"
done
