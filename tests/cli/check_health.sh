#!/usr/bin/env bash
# berth check-health over plain HTTP: every check passes for a registry; an unknown registry
# or a stopped server fails (exit 1, the report on stdout) unless --ignore-errors.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"
serve_start
configure_client
cli registry create -n healthreg1 >/dev/null

names="server,tls,registry,challenge,refresh-token,access-token,v2-access"

log "all checks pass"
out=$(cli check-health -n healthreg1)
jq_is "$out" '[.[].name] | join(",")' "$names" "check names"
jq_is "$out" '[.[].status] | unique | join(",")' ok "every check ok: $out"
jq_is "$out" '.[] | select(.name == "tls") | .detail' "plain HTTP" "tls over http"
jq_is "$out" '.[] | select(.name == "registry") | .detail' "\"healthreg1\" answers at healthreg1.$DOMAIN" \
  "registry detail"
out=$(cli check-health -n default -o table)
assert_eq "$(head -n 1 <<<"$out" | tr -s ' ')" "Name Status Detail" "table header"
assert_eq "$(grep -c ' ok ' <<<"$out")" 7 "seven ok rows for the default registry"

log "an unknown registry fails the later checks"
rc=0
"$BERTH" check-health -n nosuchreg1 >"$TMP/out" 2>"$TMP/err" || rc=$?
assert_eq "$rc" 1 "exit status with failed checks"
assert_eq "$(cat "$TMP/err")" "berth: 5 of 7 health checks failed" "stderr with failed checks"
jq_is "$(cat "$TMP/out")" '[.[] | "\(.name)=\(.status)"] | join(",")' \
  "server=ok,tls=ok,registry=failed,challenge=failed,refresh-token=failed,access-token=failed,v2-access=failed" \
  "statuses"
jq_is "$(cat "$TMP/out")" '.[] | select(.name == "registry") | .detail' \
  "$(cli_fails '\(NOT_FOUND\)$' registry show -n nosuchreg1; sed 's/^berth: //' "$TMP/fail.err")" \
  "registry check detail is the API's error"
out=$(cli check-health -n nosuchreg1 --ignore-errors --query '[].status' -o tsv)
assert_eq "$(sort -u <<<"$out" | paste -sd,)" "failed,ok" "--ignore-errors: exit 0, same report"

log "a stopped server"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
SERVER_PID=""
rc=0
"$BERTH" check-health -n healthreg1 >"$TMP/out" 2>"$TMP/err" || rc=$?
assert_eq "$rc" 1 "exit status with the server down"
assert_eq "$(cat "$TMP/err")" "berth: 6 of 7 health checks failed" "stderr with the server down"
jq_is "$(cat "$TMP/out")" '[.[] | select(.status == "ok") | .name] | join(",")' tls "only tls (plain HTTP) ok"
[[ "$(jq -r '.[0].detail' "$TMP/out")" == "cannot reach $SERVER/healthz: "* ]] ||
  fail "server check detail: $(jq -r '.[0].detail' "$TMP/out")"
