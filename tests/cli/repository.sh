#!/usr/bin/env bash
# berth repository list (by name, paged; by time with --orderby)|show|show-tags|show-manifests|
# update|delete|untag on images pushed with curl (named registry, DNS-free with --resolve) and
# with skopeo (the default registry).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"
serve_start
configure_client
cli registry create -n reporeg1 >/dev/null
login_as_operator reporeg1

log "push: team/app v1+latest (one manifest), team/app v3, other/x v1"
d1=$(push_image reporeg1 team/app v1 latest)
d2=$(push_image reporeg1 team/app v3)
dx=$(push_image reporeg1 other/x v1)

log "list"
jq_is "$(cli repository list -n reporeg1)" 'join(",")' "other/x,team/app" "repository list"
jq_is "$(cli repository list -n reporeg1 --top 1)" 'join(",")' "other/x" "repository list --top 1"

log "show: a repository, a tag, a manifest"
out=$(cli repository show -n reporeg1 --repository team/app)
jq_is "$out" '[.registry, .imageName, .manifestCount, .tagCount] | @tsv' \
  "reporeg1.$DOMAIN	team/app	2	3" "repository show"
jq_is "$out" '.changeableAttributes | [.deleteEnabled, .writeEnabled, .readEnabled, .listEnabled] | @tsv' \
  "true	true	true	true" "repository attributes"
out=$(cli repository show -n reporeg1 --image team/app:v1)
jq_is "$out" '[.name, .digest] | @tsv' "v1	$d1" "show --image R:tag"
out=$(cli repository show -n reporeg1 --image "team/app@$d1")
jq_is "$out" '[.digest, .mediaType, (.tags | sort | join(","))] | @tsv' \
  "$d1	application/vnd.oci.image.manifest.v1+json	latest,v1" "show --image R@digest"

log "show-tags"
jq_is "$(cli repository show-tags -n reporeg1 --repository team/app --orderby name)" 'join(",")' \
  "latest,v1,v3" "show-tags --orderby name (names only)"
jq_is "$(cli repository show-tags -n reporeg1 --repository team/app)" 'sort | join(",")' \
  "latest,v1,v3" "show-tags"
jq_is "$(cli repository show-tags -n reporeg1 --repository team/app --orderby name --top 2)" \
  'join(",")' "latest,v1" "show-tags --top 2"
out=$(cli repository show-tags -n reporeg1 --repository team/app --orderby name --detail)
jq_is "$out" '[.[] | "\(.name)=\(.digest)"] | join(",")' "latest=$d1,v1=$d1,v3=$d2" "show-tags --detail"
jq_is "$out" '.[0].changeableAttributes.writeEnabled' true "tag attributes"
[[ $(jq -r '.[0].size' <<<"$out") -gt 4096 ]] || fail "tag size should count the layer"
for order in time_desc time_asc; do
  jq_is "$(cli repository show-tags -n reporeg1 --repository team/app --orderby $order)" length 3 \
    "show-tags --orderby $order"
done

log "show-manifests"
out=$(cli repository show-manifests -n reporeg1 --repository team/app)
jq_is "$out" '[.[].digest] | sort | join(",")' "$(printf '%s\n' "$d1" "$d2" | sort | paste -sd,)" \
  "show-manifests digests"
jq_is "$out" '.[0] | keys | join(",")' "createdTime,digest,tags" "show-manifests fields without --detail"
jq_is "$(jq -c --arg d "$d1" '[.[] | select(.digest == $d)][0].tags | sort' <<<"$out")" 'join(",")' \
  "latest,v1" "tags of the first manifest"
out=$(cli repository show-manifests -n reporeg1 --repository team/app --detail --orderby time_asc --top 1)
jq_is "$out" 'length' 1 "show-manifests --top 1"
jq_is "$out" '.[0].mediaType' application/vnd.oci.image.manifest.v1+json "show-manifests --detail"
cli_fails '^berth: --orderby must be time_desc or time_asc, not "name"$' \
  repository show-manifests -n reporeg1 --repository team/app --orderby name

log "update: lock a tag, then a push moving it is refused"
out=$(cli repository update -n reporeg1 --image team/app:v1 --write-enabled false)
jq_is "$out" '[.name, .changeableAttributes.writeEnabled] | @tsv' "v1	false" "tag locked"
other=$(push_image reporeg1 team/app v9)
manifest=$(mktemp "$TMP/m.XXXXXX")
reg_curl reporeg1 -u "$REG_USER:$REG_PASS" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  -o "$manifest" "$(reg_url reporeg1 "/v2/team/app/manifests/$other")"
assert_eq "$(put_manifest_as reporeg1 "$REG_USER:$REG_PASS" team/app v1 "$manifest")" 403 \
  "moving a write-locked tag"
cli repository update -n reporeg1 --image team/app:v1 --write-enabled true >/dev/null
cli repository untag -n reporeg1 --image team/app:v9 >/dev/null
cli repository delete -n reporeg1 --image "team/app@$other" --yes >/dev/null

log "update: lock a manifest and the repository"
out=$(cli repository update -n reporeg1 --image "team/app@$d2" --delete-enabled false)
jq_is "$out" '[.digest, .changeableAttributes.deleteEnabled] | @tsv' "$d2	false" "manifest locked"
cli_fails '\(DENIED\)$' repository delete -n reporeg1 --image "team/app@$d2" --yes
cli repository update -n reporeg1 --image "team/app@$d2" --delete-enabled true >/dev/null
out=$(cli repository update -n reporeg1 --repository other/x --delete-enabled false --list-enabled false)
jq_is "$out" '.changeableAttributes | [.deleteEnabled, .listEnabled, .readEnabled] | @tsv' \
  "false	false	true" "repository locked"
cli_fails '\(DENIED\)$' repository delete -n reporeg1 --repository other/x --yes
jq_is "$(cli repository list -n reporeg1)" 'join(",")' "team/app" "list hides list-disabled"
cli repository update -n reporeg1 --repository other/x --delete-enabled true --list-enabled true >/dev/null
cli_fails '^berth: --read-enabled and --list-enabled apply to a --repository, not an --image$' \
  repository update -n reporeg1 --image team/app:v1 --read-enabled false
cli_fails '^berth: nothing to update: ' repository update -n reporeg1 --repository team/app
cli_fails '^berth: give either --repository or --image$' \
  repository update -n reporeg1 --repository team/app --image team/app:v1 --write-enabled true

log "untag keeps the manifest"
assert_eq "$(cli repository untag -n reporeg1 --image team/app:v3)" "" "untag prints nothing"
jq_is "$(cli repository show-tags -n reporeg1 --repository team/app --orderby name)" 'join(",")' \
  "latest,v1" "tags after untag"
jq_is "$(cli repository show -n reporeg1 --image "team/app@$d2")" '.tags | length' 0 "untagged manifest"
cli_fails '^berth: untag needs --image REPOSITORY:TAG, not a digest$' \
  repository untag -n reporeg1 --image "team/app@$d2"
cli_fails '\(NOT_FOUND\)$' repository untag -n reporeg1 --image team/app:v3

log "delete an image by tag: its manifest and every tag on it"
cli_fails '^berth: deleting image "team/app:latest" cannot be undone: add --yes to confirm$' \
  repository delete -n reporeg1 --image team/app:latest
out=$(cli repository delete -n reporeg1 --image team/app:latest --yes)
jq_is "$out" '[(.manifestsDeleted | join(",")), (.tagsDeleted | sort | join(","))] | @tsv' \
  "$d1	latest,v1" "delete --image R:tag"
assert_eq "$(reg_status reporeg1 "$REG_USER:$REG_PASS" "/v2/team/app/manifests/$d1")" 404 \
  "deleted manifest on /v2/"
out=$(cli repository delete -n reporeg1 --image "team/app@$d2" --yes)
jq_is "$out" '.manifestsDeleted | join(",")' "$d2" "delete --image R@digest"

log "delete a repository"
cli_fails '^berth: deleting repository "other/x" cannot be undone: add --yes to confirm$' \
  repository delete -n reporeg1 --repository other/x
out=$(cli repository delete -n reporeg1 --repository other/x --yes)
jq_is "$out" '[(.manifestsDeleted | join(",")), (.tagsDeleted | join(","))] | @tsv' "$dx	v1" \
  "delete --repository"
cli_fails '\(NOT_FOUND\)$' repository show -n reporeg1 --repository other/x

log "bad references"
cli_fails '^berth: --image must be REPOSITORY:TAG or REPOSITORY@DIGEST, not "team/app"$' \
  repository show -n reporeg1 --image team/app
cli_fails '^berth: --image must be REPOSITORY:TAG or REPOSITORY@DIGEST, not "host:5000/team"$' \
  repository show -n reporeg1 --image host:5000/team
cli_fails '^berth: give either --repository or --image$' repository show -n reporeg1

log "list --orderby: by last update (whole seconds, hence the pauses), the first --top"
cli registry create -n timereg1 >/dev/null
login_as_operator timereg1
push_image timereg1 b/one v1 >/dev/null
sleep 1.1
push_image timereg1 c/two v1 >/dev/null
sleep 1.1
push_image timereg1 a/three v1 >/dev/null
jq_is "$(cli repository list -n timereg1)" 'join(",")' "a/three,b/one,c/two" "list by name"
jq_is "$(cli repository list -n timereg1 --orderby time_desc)" 'join(",")' "a/three,c/two,b/one" \
  "--orderby time_desc"
jq_is "$(cli repository list -n timereg1 --orderby TIME_ASC)" 'join(",")' "b/one,c/two,a/three" \
  "--orderby time_asc"
jq_is "$(cli repository list -n timereg1 --orderby time_desc --top 2)" 'join(",")' "a/three,c/two" \
  "--orderby time_desc --top 2"
cli_fails '^berth: --orderby must be time_desc or time_asc, not "name"$' \
  repository list -n timereg1 --orderby name
cli_fails '^berth: --top is at most 1000 with --orderby$' \
  repository list -n timereg1 --orderby time_asc --top 1001

log "list follows the API's pages (100 a page): 101 repositories"
cli registry create -n pagereg1 >/dev/null
login_as_operator pagereg1
echo '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$TMP/config"
config_digest=$(file_digest "$TMP/config")
jq -cn --arg c "$config_digest" --argjson s "$(stat -c %s "$TMP/config")" '{schemaVersion: 2,
  mediaType: "application/vnd.oci.image.manifest.v1+json", layers: [],
  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $s}}' \
  >"$TMP/empty-manifest"
for i in $(seq -w 1 101); do
  push_blob pagereg1 "bulk/r$i" "$TMP/config"
  assert_eq "$(put_manifest_as pagereg1 "$REG_USER:$REG_PASS" "bulk/r$i" v1 "$TMP/empty-manifest")" 201 \
    "manifest of bulk/r$i"
done
out=$(cli repository list -n pagereg1)
jq_is "$out" '[length, .[0], .[100]] | @tsv' "101	bulk/r001	bulk/r101" "all pages"
jq_is "$out" '. == (. | unique)' true "no repository twice"
jq_is "$(cli repository list -n pagereg1 --top 100)" '[length, .[99]] | @tsv' "100	bulk/r100" "--top 100"
jq_is "$(cli repository list -n pagereg1 --orderby time_asc)" 'length' 101 \
  "--orderby without --top: up to 1000, not the API's default of 100"

log "skopeo pushes to the default registry (the server's address); the CLI sees the image"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$TMP/policy.json"
make_image "$TMP/layout" v1 1
default_token=$(cli login -n default --expose-token --query accessToken -o tsv)
timeout 120 skopeo --policy "$TMP/policy.json" copy --dest-tls-verify=false \
  --dest-creds "$NULL_USER:$default_token" oci:"$TMP/layout":v1 "docker://127.0.0.1:$PORT/team/sk:v1" \
  >/dev/null
jq_is "$(cli repository show-tags -n default --repository team/sk)" 'join(",")' v1 "skopeo's tag"
jq_is "$(cli repository show -n default --image team/sk:v1)" .digest "$(layout_digest "$TMP/layout" v1)" \
  "skopeo's manifest digest"
jq_is "$(cli repository list -n reporeg1)" 'index("team/sk")' null "the named registry does not see it"
