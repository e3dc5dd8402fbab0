#!/usr/bin/env bash
# berth manifest show|list-referrers|list-metadata|update-metadata|delete on images and referrers
# pushed with curl; IMAGE as REPO:TAG, REPO@DIGEST and <login server>/REPO:TAG.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"
serve_start
configure_client
cli registry create -n manreg1 >/dev/null
login_as_operator manreg1
login=$(cli registry show -n manreg1 --query loginServer -o tsv)
assert_eq "$login" "manreg1.$DOMAIN" "login server"

# v2_manifest REPO REF: the manifest as /v2 serves it, compact with sorted keys.
v2_manifest() {
  reg_curl manreg1 -u "$REG_USER:$REG_PASS" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "$(reg_url manreg1 "/v2/$1/manifests/$2")" | jq -cS .
}

# push_referrer REPO SUBJECT TYPE: an artifact of TYPE (empty config, one layer) whose subject is
# the manifest SUBJECT (a digest) of REPO; prints its digest.
push_referrer() {
  local repo=$1 subject=$2 type=$3 dir status
  dir=$(mktemp -d "$TMP/referrer.XXXXXX")
  printf '{}' >"$dir/config"
  head -c 64 /dev/urandom >"$dir/layer"
  push_blob manreg1 "$repo" "$dir/config"
  push_blob manreg1 "$repo" "$dir/layer"
  reg_curl manreg1 -u "$REG_USER:$REG_PASS" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -o "$dir/subject" "$(reg_url manreg1 "/v2/$repo/manifests/$subject")"
  jq -cn --arg t "$type" --arg c "$(file_digest "$dir/config")" --arg l "$(file_digest "$dir/layer")" \
    --arg s "$subject" --argjson ss "$(stat -c %s "$dir/subject")" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", artifactType: $t,
      config: {mediaType: "application/vnd.oci.empty.v1+json", digest: $c, size: 2},
      layers: [{mediaType: "application/octet-stream", digest: $l, size: 64}],
      subject: {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $s, size: $ss}}' \
    >"$dir/manifest"
  status=$(put_manifest_as manreg1 "$REG_USER:$REG_PASS" "$repo" "$(file_digest "$dir/manifest")" \
    "$dir/manifest")
  [[ "$status" == 201 ]] || fail "PUT referrer of $repo@$subject: HTTP $status"
  file_digest "$dir/manifest"
}

log "push: team/app v1+latest, team/app v2, my.team/app v1; two referrers of v1"
d1=$(push_image manreg1 team/app v1 latest)
d2=$(push_image manreg1 team/app v2)
dot=$(push_image manreg1 my.team/app v1)
sig=$(push_referrer team/app "$d1" application/vnd.example.sig)
sbom=$(push_referrer team/app "$d1" application/vnd.example.sbom)

log "show: the manifest itself, by tag, by digest, after the login server"
want=$(v2_manifest team/app "$d1")
for image in team/app:v1 "team/app@$d1" "$login/team/app:v1" "${login^^}/team/app@$d1"; do
  assert_eq "$(cli manifest show -r manreg1 "$image" | jq -cS .)" "$want" "manifest show $image"
done
jq_is "$(cli manifest show -r manreg1 team/app:v1)" '[.schemaVersion, .mediaType, (.layers | length)] | @tsv' \
  "2	application/vnd.oci.image.manifest.v1+json	1" "manifest show fields"
assert_eq "$(cli manifest show -r manreg1 my.team/app:v1 | jq -cS .)" "$(v2_manifest my.team/app "$dot")" \
  "a repository whose first part has a dot"
assert_eq "$(cli manifest show -r manreg1 team/app:v1 --query config.digest -o tsv)" \
  "$(jq -r .config.digest <<<"$want")" "--query on manifest show"

log "list-referrers, all and by artifact type"
out=$(cli manifest list-referrers -r manreg1 team/app:v1)
jq_is "$out" '[.[].digest] | sort | join(",")' "$(printf '%s\n' "$sig" "$sbom" | sort | paste -sd,)" \
  "list-referrers"
out=$(cli manifest list-referrers -r manreg1 "$login/team/app@$d1" --artifact-type application/vnd.example.sig)
jq_is "$out" '[.[] | "\(.digest)=\(.artifactType)"] | join(",")' "$sig=application/vnd.example.sig" \
  "list-referrers --artifact-type"
jq_is "$(cli manifest list-referrers -r manreg1 team/app:v1 --artifact-type none/such)" length 0 \
  "an artifact type no referrer has"
jq_is "$(cli manifest list-referrers -r manreg1 team/app:v2)" length 0 "a manifest without referrers"

log "list-metadata is repository show-manifests --detail"
out=$(cli manifest list-metadata -r manreg1 -n team/app)
jq_is "$out" '[.[].digest] | sort | join(",")' "$(printf '%s\n' "$d1" "$d2" "$sig" "$sbom" | sort | paste -sd,)" \
  "list-metadata digests"
assert_eq "$(jq -cS . <<<"$out")" \
  "$(cli repository show-manifests -n manreg1 --repository team/app --detail | jq -cS .)" \
  "list-metadata and show-manifests --detail"
jq_is "$(cli manifest list-metadata -r manreg1 --name team/app --orderby time_asc --top 2)" length 2 \
  "list-metadata --top 2"
cli_fails '^berth: --orderby must be time_desc or time_asc, not "name"$' \
  manifest list-metadata -r manreg1 -n team/app --orderby name

log "update-metadata locks the manifest a tag names, not the tag"
out=$(cli manifest update-metadata -r manreg1 team/app:v2 --delete-enabled false)
jq_is "$out" '[.digest, .changeableAttributes.deleteEnabled, .changeableAttributes.writeEnabled] | @tsv' \
  "$d2	false	true" "update-metadata --delete-enabled false"
jq_is "$(cli repository show -n manreg1 --image team/app:v2)" .changeableAttributes.deleteEnabled true \
  "the tag is not locked"
cli_fails '\(DENIED\)$' manifest delete -r manreg1 team/app:v2 --yes
out=$(cli manifest update-metadata -r manreg1 "$login/team/app@$d2" --delete-enabled TRUE --write-enabled false)
jq_is "$out" '.changeableAttributes | [.deleteEnabled, .writeEnabled] | @tsv' "true	false" \
  "update-metadata both flags"
cli_fails '\(DENIED\)$' repository untag -n manreg1 --image team/app:v2
cli manifest update-metadata -r manreg1 "team/app@$d2" --write-enabled true >/dev/null
cli_fails '^berth: nothing to update: give --delete-enabled or --write-enabled$' \
  manifest update-metadata -r manreg1 team/app:v2
cli_fails '^berth: --write-enabled must be true or false, not "yes"$' \
  manifest update-metadata -r manreg1 team/app:v2 --write-enabled yes

log "delete: the manifest and every tag on it"
cli_fails '^berth: deleting manifest "team/app:v1" cannot be undone: add --yes to confirm$' \
  manifest delete -r manreg1 team/app:v1
assert_eq "$(cli manifest delete -r manreg1 team/app:v1 --yes)" "" "manifest delete prints nothing"
assert_eq "$(reg_status manreg1 "$REG_USER:$REG_PASS" "/v2/team/app/manifests/$d1")" 404 \
  "deleted manifest on /v2/"
cli_fails '\(NOT_FOUND\)$' repository show -n manreg1 --image team/app:latest
cli manifest delete -r manreg1 "$login/team/app@$d2" --yes >/dev/null
assert_eq "$(reg_status manreg1 "$REG_USER:$REG_PASS" /v2/team/app/manifests/v2)" 404 "deleted by digest"
cli_fails '\(NOT_FOUND\)$' manifest delete -r manreg1 "team/app@$d2" --yes

log "bad references and unknown things"
cli_fails '^berth: IMAGE must be REPOSITORY:TAG or REPOSITORY@DIGEST, not "team/app"$' \
  manifest show -r manreg1 team/app
cli_fails "^berth: IMAGE names the login server other\\.example:5000, not $login of registry \"manreg1\"\$" \
  manifest show -r manreg1 other.example:5000/team/app:v1
cli_fails '\(NOT_FOUND\)$' manifest show -r manreg1 team/app:nosuch
cli_fails '\(NOT_FOUND\)$' manifest list-referrers -r manreg1 "team/app@$d1"
cli_fails '\(NOT_FOUND\)$' manifest show -r nosuchreg1 "$login/team/app:v1"
cli_fails '\(NOT_FOUND\)$' manifest list-metadata -r manreg1 -n no/such
# shellcheck disable=SC2016 # backquotes are part of the message
cli_fails '^berth: image is required \(see `berth manifest show --help`\)$' manifest show -r manreg1
