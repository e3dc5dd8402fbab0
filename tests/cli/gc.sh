#!/usr/bin/env bash
# berth admin gc (one pass by hand, also while the server runs) and berth registry show-gc.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"
serve_start
configure_client

cli registry create -n gcreg1 >/dev/null
login_as_operator gcreg1
push_image gcreg1 app v1 >/dev/null
head -c 10000 /dev/urandom >"$TMP/loose"
push_blob gcreg1 app "$TMP/loose"
loose=$(file_digest "$TMP/loose")
before=$(cli registry show-usage -n gcreg1 | jq -r '.value[] | select(.name == "Size") | .currentValue')

log "no pass yet"
jq_is "$(cli registry show-gc -n gcreg1)" .lastRun null "show-gc before any pass"

log "the loose blob is deleted; a dry run counts it and removes nothing"
status=$(reg_curl gcreg1 -u "$REG_USER:$REG_PASS" -o /dev/null -w '%{http_code}' -X DELETE \
  "$(reg_url gcreg1 "/v2/app/blobs/$loose")")
assert_eq "$status" 202 "DELETE of the loose blob"
sleep 1.1 # times carry whole seconds: with no grace, a second old is old enough
out=$(cli admin gc --data "$DATA" --registry gcreg1 --grace-seconds 0 --dry-run)
jq_is "$out" '.[0] | [.registry, .dryRun, .blobsRemoved, .bytesRemoved] | @tsv' \
  "gcreg1	true	1	10000" "dry run"
[[ -n "$(find "$DATA/registries/gcreg1/blobs" -name "${loose#sha256:}")" ]] ||
  fail "the dry run removed the blob"
jq_is "$(cli registry show-gc -n gcreg1)" .lastRun null "a dry run is not the last pass"

log "a pass while the server runs: the blob goes, the image stays"
out=$(cli admin gc --data "$DATA" --registry gcreg1 --grace-seconds 0)
jq_is "$out" '.[0] | [.dryRun, .blobsRemoved, .bytesRemoved, .error] | @tsv' \
  "false	1	10000	" "the pass"
[[ -z "$(find "$DATA/registries/gcreg1/blobs" -name "${loose#sha256:}")" ]] ||
  fail "the blob is still on disk"
out=$(cli registry show-gc -n gcreg1)
jq_is "$out" '.lastRun | [.blobsRemoved, .bytesRemoved, .dryRun] | @tsv' "1	10000	false" \
  "show-gc after the pass"
after=$(cli registry show-usage -n gcreg1 | jq -r '.value[] | select(.name == "Size") | .currentValue')
assert_eq "$after" "$((before - 10000))" "usage after the pass"
status=$(reg_curl gcreg1 -u "$REG_USER:$REG_PASS" -o /dev/null -w '%{http_code}' \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$(reg_url gcreg1 /v2/app/manifests/v1)")
assert_eq "$status" 200 "the image after the pass"

log "every registry when none is named"
jq_is "$(cli admin gc --data "$DATA" --dry-run)" '[.[].registry] | sort | join(",")' \
  "default,gcreg1" "registries of a pass over all"

log "errors"
cli_fails '^berth: registry "nosuch" not found$' admin gc --data "$DATA" --registry nosuch
cli_fails '^berth: --upload-expiry-seconds must be at least 1$' admin gc --data "$DATA" --upload-expiry-seconds 0
cli_fails '\(NOT_FOUND\)$' registry show-gc -n nosuch
