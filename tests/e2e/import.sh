#!/usr/bin/env bash
# Import (`berth import`, as `az acr import`) from real registries started here: the reference
# registry (distribution) behind htpasswd, and a second berth behind its token flow. A
# multi-arch index with a signature-like referrer (on the tag the OCI specification names for
# registries without the referrers API) comes over whole, and skopeo reads back the same digests;
# one platform alone; blobs the registry holds already are linked, not fetched again; a tag
# that points elsewhere moves only with --force; wrong credentials, a missing tag and a registry
# that is not there fail with one line naming the upstream.
# Usage: import.sh /path/to/berth
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
UP_PORT=$(free_port)
UP=127.0.0.1:$UP_PORT
e2e_start_configured "{\"upstream_allow_loopback\": true,
  \"upstream_insecure_registries\": \"$UP, 127.0.0.1\"}" "$@"
index_type=application/vnd.oci.image.index.v1+json
manifest_type=application/vnd.oci.image.manifest.v1+json

log "the upstream: the reference registry on $UP behind htpasswd"
htpasswd -Bbc "$TMP/htpasswd" mirror 'upstream-pass' 2>/dev/null
reference_start "$UP" "$TMP/upstream" "$TMP/upstream.log" --htpasswd "$TMP/htpasswd"
EXTRA_PIDS+=("$REFERENCE_PID")
up() { curl -sS --max-time 60 -u mirror:upstream-pass "$@"; }

log "a linux/amd64 + linux/arm64 index pushed to the upstream"
make_multiarch "$TMP/src" multi
amd64_digest=$AMD64_DIGEST arm64_digest=$ARM64_DIGEST index_digest=$INDEX_DIGEST
skopeo_cmd copy --quiet --all --dest-tls-verify=false --dest-creds mirror:upstream-pass \
  "oci:$TMP/src:multi" "docker://$UP/team/app:v1"

log "a signature of the index, listed on its sha256-<hex> tag (distribution has no referrers API)"
printf '{"sig":"berth-e2e"}' >"$TMP/sig.json"
sig_blob=$(file_digest "$TMP/sig.json")
loc=$(up -D - -o /dev/null -X POST "http://$UP/v2/team/app/blobs/uploads/" | tr -d '\r' |
  sed -n 's/^[Ll]ocation: //p')
[[ "$loc" == http* ]] || loc="http://$UP$loc"
up -f -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \
  --data-binary "@$TMP/sig.json" "$loc&digest=$sig_blob"
jq -n --arg mt "$manifest_type" --arg d "$sig_blob" --argjson s "$(stat -c %s "$TMP/sig.json")" \
  --arg subject "$index_digest" --argjson ss "$(stat -c %s "$TMP/index.json")" --arg it "$index_type" \
  '{schemaVersion: 2, mediaType: $mt, artifactType: "application/vnd.berth.e2e.signature",
    config: {mediaType: "application/vnd.oci.empty.v1+json", digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", size: 2},
    layers: [{mediaType: "application/vnd.berth.e2e.signature", digest: $d, size: $s}],
    subject: {mediaType: $it, digest: $subject, size: $ss}}' >"$TMP/sig-manifest.json"
printf '{}' >"$TMP/empty.json"
loc=$(up -D - -o /dev/null -X POST "http://$UP/v2/team/app/blobs/uploads/" | tr -d '\r' |
  sed -n 's/^[Ll]ocation: //p')
[[ "$loc" == http* ]] || loc="http://$UP$loc"
up -f -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \
  --data-binary "@$TMP/empty.json" "$loc&digest=$(file_digest "$TMP/empty.json")"
sig_digest=$(file_digest "$TMP/sig-manifest.json")
up -f -o /dev/null -X PUT -H "Content-Type: $manifest_type" --data-binary "@$TMP/sig-manifest.json" \
  "http://$UP/v2/team/app/manifests/$sig_digest"
jq -n --arg it "$index_type" --arg mt "$manifest_type" --arg d "$sig_digest" \
  --argjson s "$(stat -c %s "$TMP/sig-manifest.json")" \
  '{schemaVersion: 2, mediaType: $it, manifests: [{mediaType: $mt, digest: $d, size: $s,
    artifactType: "application/vnd.berth.e2e.signature"}]}' >"$TMP/referrers.json"
up -f -o /dev/null -X PUT -H "Content-Type: $index_type" --data-binary "@$TMP/referrers.json" \
  "http://$UP/v2/team/app/manifests/sha256-${index_digest#sha256:}"

log "a credential set for the upstream: the password is never shown"
printf 'upstream-pass\n' >"$TMP/up-password"
cli credential-set create -r default -n up --login-server "$UP" -u mirror \
  --password-file "$TMP/up-password" >"$TMP/set.json"
assert_eq "$(jq -r .loginServer "$TMP/set.json")" "$UP" "the credential set's login server"
! grep -q upstream-pass "$TMP/set.json" || fail "the credential set's password was shown"
cli credential-set list -r default | jq -e 'length == 1 and .[0].name == "up"' >/dev/null ||
  fail "credential-set list"
! cat "$DATA"/berth.db* | grep -qa upstream-pass || fail "the password is in the database in the clear"

log "import the index with its referrer"
cli import -r default --source "$UP/team/app:v1" --image mirror/app:v1 --credential-set up \
  >"$TMP/import.json" 2>"$TMP/import.err"
grep -q "berth: import .* succeeded" "$TMP/import.err" || fail "no progress on stderr: $(cat "$TMP/import.err")"
assert_eq "$(jq -r .status "$TMP/import.json")" succeeded "import status"
assert_eq "$(jq -r .digest "$TMP/import.json")" "$index_digest" "the digest imported"
assert_eq "$(jq -r .progress.manifests "$TMP/import.json")" 4 "manifests imported (index, 2 children, signature)"
assert_eq "$(jq -r .progress.blobsCopied "$TMP/import.json")" 8 "blobs fetched (2 configs, 4 layers, the signature's 2)"
skopeo_cmd copy --quiet --all --src-tls-verify=false "docker://$REG/mirror/app:v1" "oci:$TMP/back:multi"
assert_eq "$(layout_digest "$TMP/back" multi)" "$index_digest" "index digest read back by skopeo"
for d in "$amd64_digest" "$arm64_digest"; do
  for b in $(manifest_blobs "$(layout_blob "$TMP/back" "$d")"); do
    assert_eq "$(file_digest "$(layout_blob "$TMP/back" "$b")")" "$b" "blob $b of $d read back"
  done
done
http GET "/v2/mirror/app/referrers/$index_digest"
expect_status 200 "referrers of the imported index"
assert_eq "$(body | jq -r '.manifests[0].digest')" "$sig_digest" "the signature is a referrer in berth"

log "one platform of the index; blobs berth holds already are linked, not fetched"
cli import -r default --source "$UP/team/app:v1" --image solo/app:arm64 --platform linux/arm64 \
  --credential-set up >"$TMP/solo.json" 2>/dev/null
assert_eq "$(jq -r .digest "$TMP/solo.json")" "$arm64_digest" "the platform's manifest"
assert_eq "$(remote_digest solo/app:arm64)" "$arm64_digest" "solo/app:arm64 read back"
assert_eq "$(jq -r .progress.blobsCopied "$TMP/solo.json")" 0 "blobs fetched again"
assert_eq "$(jq -r .progress.blobsMounted "$TMP/solo.json")" 3 "blobs linked from the store (config, 2 layers)"

log "a tag that points elsewhere moves only with --force"
if cli import -r default --source "$UP/team/app:v1" --image solo/app:arm64 --credential-set up \
  >/dev/null 2>"$TMP/conflict.err"; then
  fail "an import moved a tag without --force"
fi
grep -q -- "--force moves it" "$TMP/conflict.err" || fail "the refusal does not say why: $(cat "$TMP/conflict.err")"
cli import -r default --source "$UP/team/app:v1" --image solo/app:arm64 --credential-set up \
  --force >/dev/null 2>&1
assert_eq "$(remote_digest solo/app:arm64)" "$index_digest" "the tag moved with --force"

log "--no-wait returns the job, import-job show follows it"
cli import -r default --source "$UP/team/app@$amd64_digest" --image bydigest/app \
  --username mirror --password-stdin --no-wait <<<"upstream-pass" >"$TMP/job.json"
id=$(jq -r .id "$TMP/job.json")
for _ in $(seq 100); do
  status=$(cli import-job show -r default --id "$id" | jq -r .status)
  [[ "$status" == succeeded || "$status" == failed ]] && break
  sleep 0.1
done
assert_eq "$status" succeeded "the job run with --no-wait"
http GET "/v2/bydigest/app/manifests/$amd64_digest"
expect_status 200 "the image imported by digest"
cli import-job list -r default | jq -e 'length == 5 and .[0].id == "'"$id"'"' >/dev/null ||
  fail "import-job list: $(cli import-job list -r default)"

log "failures name the upstream, in one line"
expect_failure() {
  local what=$1 want=$2
  shift 2
  if cli "$@" >/dev/null 2>"$TMP/fail.err"; then fail "$what succeeded"; fi
  # Progress lines, then the error in one line, last.
  tail -n 1 "$TMP/fail.err" | grep -q -- "^berth: .*$want" ||
    fail "$what: $(cat "$TMP/fail.err") (want, last: $want)"
  if grep -v '^berth: import [0-9a-f]\{8\} \(queued\|running\|failed\): ' "$TMP/fail.err" | sed '$d' |
    grep -q .; then
    fail "$what: more than the progress and one line of error on stderr: $(cat "$TMP/fail.err")"
  fi
}
expect_failure "wrong credentials" "upstream $UP refused the credentials of mirror" \
  import -r default --source "$UP/team/app:v1" -u mirror -p wrong
expect_failure "no credentials" "upstream $UP requires credentials" \
  import -r default --source "$UP/team/app:v1"
expect_failure "a missing tag" "upstream $UP has no manifest team/app:nope" \
  import -r default --source "$UP/team/app:nope" --credential-set up
gone=127.0.0.1:$(free_port)
expect_failure "an upstream that is not there" "upstream $gone unreachable" \
  import -r default --source "$gone/team/app:v1"
expect_failure "a credential set of another host" "credential set up is for $UP" \
  import -r default --source "docker.io/library/alpine:3" --credential-set up

log "the upstream's access log: one fetch per blob of the first import, none after"
fetched=$(grep -c '"GET /v2/team/app/blobs/' "$TMP/upstream.log" || true)
assert_eq "$fetched" 8 "blob GETs the upstream served"

log "a second berth as upstream, behind its token flow"
second_berth_start "$TMP/upstream-berth" "$TMP/upstream-berth.log"
skopeo_cmd copy --quiet --dest-tls-verify=false --dest-creds "default:$B_PASS" \
  "oci:$TMP/src:amd64" "docker://$B_ADDR/base/app:1"
cli import -r default --source "$B_ADDR/base/app:1" -u default --password-stdin \
  <<<"$B_PASS" >"$TMP/berth-import.json" 2>/dev/null
assert_eq "$(jq -r .digest "$TMP/berth-import.json")" "$amd64_digest" "imported from a berth"
assert_eq "$(remote_digest base/app:1)" "$amd64_digest" "base/app:1 read back"
