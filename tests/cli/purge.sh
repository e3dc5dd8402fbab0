#!/usr/bin/env bash
# berth purge (a table by default, JSON with -o json, progress on stderr), purge schedules,
# berth config retention|soft-delete, and berth repository tag-history|tag-rollback.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"
serve_start
configure_client

cli registry create -n purgereg1 >/dev/null
login_as_operator purgereg1
for tag in v1 v2 v3 v4; do push_image purgereg1 app "$tag" >/dev/null; done
push_image purgereg1 app latest >/dev/null
push_image purgereg1 other keep >/dev/null
untagged=$(push_image purgereg1 other loose)
status=$(reg_curl purgereg1 -u "$REG_USER:$REG_PASS" -o /dev/null -w '%{http_code}' -X DELETE \
  "$(reg_url purgereg1 /v2/other/manifests/loose)")
assert_eq "$status" 202 "untag other:loose"

log "a dry run prints a table of what would go and deletes nothing"
out=$(cli purge -r purgereg1 --filter 'app:v.*' --keep 1 --dry-run 2>"$TMP/progress")
grep -q '^Repository  Action' <<<"$out" || fail "no table header: $out"
[[ $(grep -c 'would delete tag' <<<"$out") == 3 ]] || fail "want three tags in the dry run: $out"
grep -q 'dry run: 3 change' "$TMP/progress" || fail "no summary on stderr: $(cat "$TMP/progress")"
jq_is "$(cli repository show-tags -n purgereg1 --repository app)" 'length' 5 "tags after the dry run"

log "a locked tag is kept and reported"
cli repository update -n purgereg1 --image app:v2 --delete-enabled false >/dev/null
out=$(cli purge -r purgereg1 --filter 'app:v.*' --keep 1 -o json 2>/dev/null)
jq_is "$out" '[.[] | select(.action == "deleted tag") | .tag] | sort | join(",")' "v1,v3" \
  "tags purged (v4 is the newest, v2 is locked)"
jq_is "$out" '[.[] | select(.action == "kept, locked") | .tag] | join(",")' "v2" "locked"
jq_is "$(cli repository show-tags -n purgereg1 --repository app)" 'sort | join(",")' \
  "latest,v2,v4" "tags after the purge"

log "--untagged deletes the manifests left without tags, in every matching repository"
out=$(cli purge -r purgereg1 --filter '.*:^$' --untagged -o json 2>"$TMP/progress")
jq_is "$out" '[.[] | select(.action == "deleted manifest") | .digest] | length' 3 \
  "manifests of v1, v3 and other:loose"
jq_is "$out" "[.[] | select(.digest == \"$untagged\")] | length" 1 "other's untagged manifest"
grep -q 'purging other (2/2)' "$TMP/progress" || fail "no progress: $(cat "$TMP/progress")"

log "errors"
cli_fails '^berth: give --filter, --untagged, or both: nothing to purge$' purge -r purgereg1
cli_fails 'REPOSITORY_REGEX:TAG_REGEX' purge -r purgereg1 --filter app
cli_fails 'invalid regular expression' purge -r purgereg1 --filter 'app:v(('
cli_fails 'ago must be a duration' purge -r purgereg1 --filter 'app:.*' --ago 3w

log "schedules"
out=$(cli purge schedule create -r purgereg1 --cron '0 3 * * *' -- --filter 'app:.*' --ago 30d --untagged)
jq_is "$out" '[.schedule, (.filters | join(",")), .agoSeconds, .untagged] | @tsv' \
  "0 3 * * *	app:.*	2592000	true" "created schedule"
id=$(jq -r .id <<<"$out")
[[ "$(jq -r .nextRunTime <<<"$out")" == *T03:00:00Z ]] || fail "next run is not at 03:00: $out"
jq_is "$(cli purge schedule list -r purgereg1)" '[.[].id] | join(",")' "$id" "schedule list"
cli_fails 'schedule "61 \* \* \* \*": bad minute field' \
  purge schedule create -r purgereg1 --cron '61 * * * *' -- --untagged
cli_fails 'unknown purge flag "--bogus"' purge schedule create -r purgereg1 --cron '* * * * *' -- --bogus
cli purge schedule delete -r purgereg1 --id "$id"
jq_is "$(cli purge schedule list -r purgereg1)" 'length' 0 "schedules after delete"
cli_fails '\(NOT_FOUND\)$' purge schedule delete -r purgereg1 --id "$id"

log "retention and soft-delete policies"
jq_is "$(cli config retention show -r purgereg1)" '[.status, .days] | @tsv' "disabled	7" "default retention"
out=$(cli config retention update -r purgereg1 --status enabled --days 30 --type UntaggedManifests)
jq_is "$out" '[.status, .days] | @tsv' "enabled	30" "retention updated"
jq_is "$(cli config retention show -r purgereg1)" '.status' enabled "retention shown"
jq_is "$(cli config soft-delete update -r purgereg1 --days 14)" '[.status, .days] | @tsv' \
  "disabled	14" "soft-delete days"
cli_fails 'days must be between 1 and 365' config retention update -r purgereg1 --days 400
cli_fails 'UntaggedManifests' config retention update -r purgereg1 --type Everything --days 3

log "tag history and rollback"
first=$(push_image purgereg1 web prod)
second=$(push_image purgereg1 web prod)
out=$(cli repository tag-history -n purgereg1 --image web:prod)
jq_is "$out" '[.[].action] | join(",")' "moved,created" "history actions"
jq_is "$out" '.[0] | [.fromDigest, .toDigest, .identity] | @tsv' "$first	$second	admin" \
  "the move"
out=$(cli repository tag-rollback -n purgereg1 --image web:prod)
jq_is "$out" .digest "$first" "rolled back one step"
jq_is "$(cli repository tag-history -n purgereg1 --image web:prod --top 1)" '.[0].toDigest' \
  "$first" "the rollback is in the history"
cli repository delete -n purgereg1 --image "web@$second" --yes >/dev/null
cli_fails 'was deleted' repository tag-rollback -n purgereg1 --image web:prod --to "$second"
cli_fails 'never pointed at' repository tag-rollback -n purgereg1 --image web:prod --to "sha256:$(printf 'a%.0s' {1..64})"

log "soft delete: a deleted manifest is listed, restorable with its tags, and pulls again"
cli config soft-delete update -r purgereg1 --status enabled --days 7 >/dev/null
kept=$(push_image purgereg1 soft v1 stable)
cli manifest delete -r purgereg1 "soft:v1" --yes >/dev/null
status=$(reg_curl purgereg1 -u "$REG_USER:$REG_PASS" -o /dev/null -w '%{http_code}' \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$(reg_url purgereg1 /v2/soft/manifests/v1)")
assert_eq "$status" 404 "the deleted image"
out=$(cli manifest list-deleted -r purgereg1 -n soft)
jq_is "$out" '.[0] | [.digest, (.tags | sort | join(",")), .deletedBy] | @tsv' \
  "$kept	stable,v1	operator" "list-deleted"
[[ "$(jq -r '.[0].purgeTime' <<<"$out")" > "$(jq -r '.[0].deletedTime' <<<"$out")" ]] ||
  fail "purge time not after deletion: $out"
jq_is "$(cli repository list-deleted -n purgereg1)" '.[] | select(.name == "soft") | .deletedManifests' 1 \
  "repository list-deleted"
out=$(cli manifest restore -r purgereg1 --image "soft@$kept")
jq_is "$out" '.tags | sort | join(",")' "stable,v1" "restored tags"
status=$(reg_curl purgereg1 -u "$REG_USER:$REG_PASS" -o /dev/null -w '%{http_code}' \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$(reg_url purgereg1 /v2/soft/manifests/v1)")
assert_eq "$status" 200 "the restored image"
jq_is "$(cli manifest list-deleted -r purgereg1 -n soft)" 'length' 0 "nothing deleted any more"
cli_fails 'no deleted manifest' manifest restore -r purgereg1 --image "soft@$kept"
cli_fails 'REPOSITORY@DIGEST' manifest restore -r purgereg1 --image soft:v1
