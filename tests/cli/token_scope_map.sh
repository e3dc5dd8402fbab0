#!/usr/bin/env bash
# berth scope-map create|list|show|update|delete and berth token create|list|show|update|delete
# and token credential generate|delete; a token's password works (and stops working) on /v2/.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"
serve_start
configure_client
cli registry create -n tokenreg1 >/dev/null

log "scope-map list has the built-in maps"
out=$(cli scope-map list -r tokenreg1)
jq_is "$out" '.[] | select(.name == "_repositories_pull") | .type' SystemDefined "built-in map"

log "scope-map create, show, update"
out=$(cli scope-map create -n ci-push-map -r tokenreg1 --description "CI pushes" \
  --repository team/app content/read content/write --repository 'team/base/*' content/read)
jq_is "$out" '[.name, .type, .description] | @tsv' "ci-push-map	UserDefined	CI pushes" "created map"
jq_is "$out" '.actions | join(",")' \
  "repositories/team/app/content/read,repositories/team/app/content/write,repositories/team/base/*/content/read" \
  "created map actions"
jq_is "$(cli scope-map show -n ci-push-map -r tokenreg1)" '.actions | length' 3 "scope-map show"
out=$(cli scope-map update -n ci-push-map -r tokenreg1 \
  --add-repository team/app content/delete metadata/read --remove-repository 'team/base/*' content/read)
jq_is "$out" '.actions | sort | join(",")' \
  "repositories/team/app/content/delete,repositories/team/app/content/read,repositories/team/app/content/write,repositories/team/app/metadata/read" \
  "updated actions"
jq_is "$(cli scope-map update -n ci-push-map -r tokenreg1 --description "CI")" .description CI \
  "updated description"
jq_is "$(cli scope-map list -r tokenreg1)" '[.[] | select(.type == "UserDefined") | .name] | join(",")' \
  ci-push-map "user-defined maps"
cli_fails '^berth: unknown action "content/push" in --repository \(content/read, content/write, content/delete, metadata/read or metadata/write\)$' \
  scope-map create -n bad-map1 -r tokenreg1 --repository team/app content/push
cli_fails '^berth: nothing to update: ' scope-map update -n ci-push-map -r tokenreg1
cli_fails '\(DENIED\)$' scope-map delete -n _repositories_pull -r tokenreg1 --yes

log "token create with a scope map: two passwords, shown once"
out=$(cli token create -n ci-token1 -r tokenreg1 --scope-map ci-push-map)
jq_is "$out" '[.name, .scopeMapName, .status] | @tsv' "ci-token1	ci-push-map	enabled" "created token"
jq_is "$out" '[.credentials.passwords[].name] | join(",")' "password1,password2" "password names"
pass1=$(jq -r '.credentials.passwords[0].value' <<<"$out")
pass2=$(jq -r '.credentials.passwords[1].value' <<<"$out")
[[ -n "$pass1" && "$pass1" != null && -n "$pass2" && "$pass2" != null ]] || fail "token passwords missing"
jq_is "$(cli token show -n ci-token1 -r tokenreg1)" '[.credentials.passwords[].value] | unique | @json' \
  '[null]' "token show hides values"

log "the token's password works on /v2/ within its scope"
assert_eq "$(reg_status tokenreg1 "ci-token1:$pass1" /v2/)" 200 "password1 on /v2/"
assert_eq "$(reg_status tokenreg1 "ci-token1:$pass2" /v2/)" 200 "password2 on /v2/"
REG_USER=ci-token1 REG_PASS=$pass1
push_image tokenreg1 team/app v1 >/dev/null
jq_is "$(cli repository show-tags -n tokenreg1 --repository team/app)" 'join(",")' v1 \
  "the token pushed team/app:v1"
status=$(reg_curl tokenreg1 -u "ci-token1:$pass1" -o /dev/null -w '%{http_code}' -X POST \
  "$(reg_url tokenreg1 /v2/other/x/blobs/uploads/)")
[[ "$status" == 401 || "$status" == 403 ]] || fail "push outside the scope map: HTTP $status, want 401 or 403"

log "token update: disabled tokens are refused; scope map changes"
jq_is "$(cli token update -n ci-token1 -r tokenreg1 --status disabled)" .status disabled "disabled"
assert_eq "$(reg_status tokenreg1 "ci-token1:$pass1" /v2/)" 401 "disabled token on /v2/"
jq_is "$(cli token update -n ci-token1 -r tokenreg1 --status ENABLED)" .status enabled "enabled again"
assert_eq "$(reg_status tokenreg1 "ci-token1:$pass1" /v2/)" 200 "enabled token on /v2/"
jq_is "$(cli token update -n ci-token1 -r tokenreg1 --scope-map _repositories_pull)" .scopeMapName \
  _repositories_pull "scope map changed"
cli_fails '^berth: nothing to update: give --scope-map or --status$' token update -n ci-token1 -r tokenreg1
cli_fails '^berth: --status must be enabled or disabled, not "paused"$' \
  token update -n ci-token1 -r tokenreg1 --status paused

log "token create --repository makes <token>-scope-map"
out=$(cli token create -n ci-repo1 -r tokenreg1 --repository team/app content/read metadata/read \
  --expiration 2030-01-01T00:00:00Z)
jq_is "$out" .scopeMapName ci-repo1-scope-map "scope map of the token"
jq_is "$out" '[.credentials.passwords[].expiry] | unique | join(",")' "2030-01-01T00:00:00Z" "expiry"
jq_is "$(cli scope-map show -n ci-repo1-scope-map -r tokenreg1)" '.actions | join(",")' \
  "repositories/team/app/content/read,repositories/team/app/metadata/read" "actions of the token's map"

log "a token that cannot be made leaves no scope map behind"
cli_fails '\(CONFLICT\)$' token create -n ci-token1 -r tokenreg1 --repository team/app content/read
cli_fails '\(NOT_FOUND\)$' scope-map show -n ci-token1-scope-map -r tokenreg1

log "token create --no-passwords, then credential generate"
out=$(cli token create -n ci-late1 -r tokenreg1 --scope-map _repositories_pull --no-passwords --status disabled)
jq_is "$out" '[.status, ([.credentials.passwords[]? | select(.value != null)] | length)] | @tsv' \
  "disabled	0" "no passwords"
out=$(cli token credential generate -n ci-late1 -r tokenreg1 --password1 --expiration-in-days 30)
jq_is "$out" '[.credentials.passwords[] | select(.value != null) | .name] | join(",")' password1 \
  "generate --password1"
expiry=$(jq -r '.credentials.passwords[] | select(.name == "password1") | .expiry' <<<"$out")
want=$(date -u -d '+30 days' +%Y-%m-%d)
[[ "$expiry" == "$want"T* || "$expiry" == "$(date -u -d '+29 days' +%Y-%m-%d)"T* ]] ||
  fail "--expiration-in-days 30: expiry $expiry, want about $want"
out=$(cli token credential generate -n ci-late1 -r tokenreg1)
jq_is "$out" '[.credentials.passwords[] | select(.value != null) | .name] | join(",")' \
  "password1,password2" "generate (both)"
late2=$(jq -r '.credentials.passwords[] | select(.name == "password2") | .value' <<<"$out")
cli token update -n ci-late1 -r tokenreg1 --status enabled >/dev/null
assert_eq "$(reg_status tokenreg1 "ci-late1:$late2" /v2/)" 200 "generated password2 on /v2/"
cli_fails '^berth: give --expiration or --expiration-in-days, not both$' \
  token credential generate -n ci-late1 -r tokenreg1 --expiration 2030-01-01T00:00:00Z --expiration-in-days 3
cli_fails '^berth: --expiration must be an RFC 3339 UTC time such as 2030-01-01T00:00:00Z$' \
  token create -n ci-bad1 -r tokenreg1 --scope-map _repositories_pull --expiration tomorrow
cli_fails '^berth: --expiration-in-days must be a whole number of days from 1 to 36500$' \
  token create -n ci-bad1 -r tokenreg1 --scope-map _repositories_pull --expiration-in-days 0
cli_fails '^berth: give either --scope-map or --repository$' token create -n ci-bad1 -r tokenreg1

log "token credential delete: a deleted password stops working on /v2/ at once"
out=$(cli token create -n ci-del1 -r tokenreg1 --scope-map _repositories_pull)
del1=$(jq -r '.credentials.passwords[] | select(.name == "password1") | .value' <<<"$out")
del2=$(jq -r '.credentials.passwords[] | select(.name == "password2") | .value' <<<"$out")
assert_eq "$(reg_status tokenreg1 "ci-del1:$del1" /v2/)" 200 "password1 before the delete"
out=$(cli token credential delete -n ci-del1 -r tokenreg1 --password1)
jq_is "$out" '[.name, (.credentials.passwords | map(.name) | join(","))] | @tsv' "ci-del1	password2" \
  "the token after delete --password1"
assert_eq "$(reg_status tokenreg1 "ci-del1:$del1" /v2/)" 401 "deleted password1 on /v2/"
assert_eq "$(reg_status tokenreg1 "ci-del1:$del2" /v2/)" 200 "password2 after deleting password1"
cli_fails '^berth: token "ci-del1" has no password1$' \
  token credential delete -n ci-del1 -r tokenreg1 --password1 --password2
assert_eq "$(reg_status tokenreg1 "ci-del1:$del2" /v2/)" 200 "a refused delete kept password2"
cli_fails '^berth: give --password1, --password2 or both$' token credential delete -n ci-del1 -r tokenreg1
cli_fails '\(NOT_FOUND\)$' token credential delete -n nosuchtoken1 -r tokenreg1 --password2
out=$(cli token credential generate -n ci-del1 -r tokenreg1 --password1)
new1=$(jq -r '.credentials.passwords[] | select(.name == "password1") | .value' <<<"$out")
assert_eq "$(reg_status tokenreg1 "ci-del1:$new1" /v2/)" 200 "a new password1"
out=$(cli token credential delete -n ci-del1 -r tokenreg1 --password1 --password2)
jq_is "$out" '.credentials.passwords | length' 0 "delete --password1 --password2"
assert_eq "$(reg_status tokenreg1 "ci-del1:$new1" /v2/)" 401 "deleted password1 on /v2/"
assert_eq "$(reg_status tokenreg1 "ci-del1:$del2" /v2/)" 401 "deleted password2 on /v2/"
jq_is "$(cli token show -n ci-del1 -r tokenreg1)" '[.status, (.credentials.passwords | length)] | @tsv' \
  "enabled	0" "the token stays, without passwords"

log "token list"
jq_is "$(cli token list -r tokenreg1)" '[.[].name] | sort | join(",")' \
  "ci-del1,ci-late1,ci-repo1,ci-token1" \
  "token list"

log "delete: a used scope map is refused; tokens and maps need --yes"
cli token update -n ci-token1 -r tokenreg1 --scope-map ci-push-map >/dev/null
cli_fails '\(CONFLICT\)$' scope-map delete -n ci-push-map -r tokenreg1 --yes
cli_fails '^berth: deleting token "ci-token1" cannot be undone: add --yes to confirm$' \
  token delete -n ci-token1 -r tokenreg1
assert_eq "$(cli token delete -n ci-token1 -r tokenreg1 --yes)" "" "token delete prints nothing"
assert_eq "$(reg_status tokenreg1 "ci-token1:$pass1" /v2/)" 401 "deleted token on /v2/"
cli_fails '\(NOT_FOUND\)$' token show -n ci-token1 -r tokenreg1
cli_fails '^berth: deleting scope map "ci-push-map" cannot be undone: add --yes to confirm$' \
  scope-map delete -n ci-push-map -r tokenreg1
cli scope-map delete -n ci-push-map -r tokenreg1 --yes >/dev/null
cli_fails '\(NOT_FOUND\)$' scope-map show -n ci-push-map -r tokenreg1
cli_fails '\(NOT_FOUND\)$' token list -r nosuchreg1
