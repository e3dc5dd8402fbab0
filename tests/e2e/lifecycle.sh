#!/usr/bin/env bash
# Purge, soft delete and tag history with real clients: skopeo pushes versions, `berth purge`
# deletes the old ones (the rest pull byte for byte); with soft delete on, an image skopeo
# deletes is restored by `berth manifest restore` and pulls again with skopeo and podman; a tag
# skopeo moves shows in `berth repository tag-history` and `tag-rollback` brings the old image
# back.
# Usage: lifecycle.sh /path/to/berth
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
if [[ -n "${E2E_REGISTRY:-}" ]]; then
  echo "SKIP [$TEST_NAME]: drives berth's control API with the operator token of its data directory (E2E_REGISTRY is set)"
  exit 77
fi
e2e_start "$@"
export BERTH_SERVER="http://$REG"
BERTH_OPERATOR_TOKEN=$(<"$DATA/operator-token")
export BERTH_OPERATOR_TOKEN
push() { skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:$1" "docker://$REG/e2e/life:$2"; }
pull() { skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/e2e/life:$1" "oci:$TMP/back:$2"; }
absent() {
  if skopeo_cmd inspect --raw --tls-verify=false "docker://$REG/e2e/life:$1" >/dev/null 2>&1; then
    fail "e2e/life:$1 is still there"
  fi
}

for v in 1 2 3; do
  make_image "$TMP/src" "v$v" 1
  push "v$v" "v$v"
done
push v3 latest

log "purge the versions but the newest; --untagged takes their manifests"
out=$(cli purge -r default --filter 'e2e/life:v[0-9]+' --keep 1 --untagged -o json 2>/dev/null)
jq_is() { assert_eq "$(jq -r "$2" <<<"$1")" "$3" "$4"; }
jq_is "$out" '[.[] | select(.action == "deleted tag") | .tag] | sort | join(",")' "v1,v2" "tags purged"
jq_is "$out" '[.[] | select(.action == "deleted manifest")] | length' 2 "manifests purged"
absent v1
absent v2
pull v3 v3
assert_same_image "$TMP/src" v3 "$TMP/back" v3
pull latest latest
assert_same_image "$TMP/src" v3 "$TMP/back" latest

log "soft delete: skopeo deletes, berth restores, skopeo and podman pull"
cli config soft-delete update -r default --status enabled --days 7 >/dev/null
digest=$(layout_digest "$TMP/src" v3)
skopeo_cmd delete --tls-verify=false "docker://$REG/e2e/life:v3"
absent v3
absent latest
jq_is "$(cli manifest list-deleted -r default -n e2e/life)" '.[0] | [.digest, (.tags | sort | join(","))] | @tsv' \
  "$digest	latest,v3" "list-deleted"
cli manifest restore -r default --image "e2e/life@$digest" >/dev/null
pull v3 v3again
assert_same_image "$TMP/src" v3 "$TMP/back" v3again
podman_id=$(podman_pull "$REG/e2e/life:latest")
[[ -n "$podman_id" ]] || fail "podman pull of the restored image printed no image id"

log "tag history and rollback"
make_image "$TMP/src" v4 1
push v4 latest
out=$(cli repository tag-history -n default --image e2e/life:latest)
jq_is "$out" '.[0] | [.action, .fromDigest, .toDigest, .identity, .source] | @tsv' \
  "moved	$digest	$(layout_digest "$TMP/src" v4)	admin	127.0.0.1" "the move skopeo made"
jq_is "$out" '[.[].action] | join(",")' "moved,restored,deleted,created" "the tag's life"
cli repository tag-rollback -n default --image e2e/life:latest >/dev/null
pull latest rolled
assert_same_image "$TMP/src" v3 "$TMP/back" rolled
