#!/usr/bin/env bash
# Error paths: each failure is a non-zero exit and one line on stderr, nothing on stdout.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"
serve_start
configure_client
cli registry create -n errreg1 >/dev/null

log "unknown things: the API's message and code"
cli_fails '^berth: registry "?nosuchreg1"? not found \(NOT_FOUND\)$' registry show -n nosuchreg1
cli_fails '\(NOT_FOUND\)$' registry show-usage -n nosuchreg1
cli_fails '\(NOT_FOUND\)$' registry update -n nosuchreg1 --sku Basic
cli_fails '\(NOT_FOUND\)$' repository list -n nosuchreg1
cli_fails '\(NOT_FOUND\)$' repository show -n errreg1 --repository no/such
cli_fails '\(NOT_FOUND\)$' repository show-tags -n errreg1 --repository no/such
cli_fails '\(NOT_FOUND\)$' repository show -n errreg1 --image no/such:v1
cli_fails '\(NOT_FOUND\)$' scope-map show -n nosuchmap -r errreg1
cli_fails '\(NOT_FOUND\)$' token show -n nosuchtoken -r errreg1
cli_fails '\(NOT_FOUND\)$' token create -n tokenx1 -r errreg1 --scope-map nosuchmap

log "bad flag values, caught before anything is sent"
cli_fails '^berth: --top must be a positive whole number, not "0"$' repository list -n errreg1 --top 0
cli_fails '^berth: --top must be a positive whole number, not "x"$' \
  repository show-tags -n errreg1 --repository a --top x
cli_fails '^berth: --orderby must be time_desc, time_asc or name, not "size"$' \
  repository show-tags -n errreg1 --repository a --orderby size
cli_fails '^berth: --delete-enabled must be true or false, not "1"$' \
  repository update -n errreg1 --repository a --delete-enabled 1
cli_fails '^berth: --status must be enabled or disabled, not "on"$' \
  token create -n tokenx1 -r errreg1 --scope-map _repositories_pull --status on

log "usage errors (CLI11): one line too, pointing at the command's help"
# shellcheck disable=SC2016 # backquotes are part of the message
cli_fails '^berth: --name is required \(see `berth registry show --help`\)$' registry show
# shellcheck disable=SC2016
cli_fails '^berth: A subcommand is required \(see `berth registry --help`\)$' registry
# shellcheck disable=SC2016
cli_fails '^berth: --repository is required \(see `berth repository show-tags --help`\)$' \
  repository show-tags -n errreg1
# shellcheck disable=SC2016
cli_fails '^berth: .*--no-such-flag \(see `berth registry list --help`\)$' registry list --no-such-flag
# shellcheck disable=SC2016
cli_fails '^berth: --name is required \(see `berth token credential generate --help`\)$' \
  token credential generate -r errreg1
cli_fails '^berth: --repository needs a repository and at least one action$' \
  scope-map create -n mapx1 -r errreg1 --repository team/app
rc=0
"$BERTH" admin credential renew --data "$TMP/data" >/dev/null 2>"$TMP/usage.err" || rc=$?
((rc != 0)) || fail "berth admin credential renew without --password-name: exit 0"
grep -q '^Run with --help for more information.$' "$TMP/usage.err" ||
  fail "berth admin keeps CLI11's usage message: $(cat "$TMP/usage.err")"

jq_is "$(cli token list -r errreg1)" length 0 "no token was created"
jq_is "$(cli scope-map list -r errreg1)" '[.[] | select(.type == "UserDefined")] | length' 0 \
  "no scope map was created"

log "server down: one line naming the URL"
down=$(free_port)
BERTH_SERVER=http://127.0.0.1:$down cli_fails \
  "^berth: cannot reach http://127.0.0.1:$down/api/v1/registries/errreg1: .*" registry show -n errreg1
BERTH_SERVER=http://127.0.0.1:$down cli_fails "^berth: cannot reach " login -n errreg1

log "the real server, stopped"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
SERVER_PID=""
cli_fails "^berth: cannot reach $SERVER/api/v1/registries: " registry list
