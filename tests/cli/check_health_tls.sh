#!/usr/bin/env bash
# HTTPS: check-health and login verify the server's certificate with --ca-file, and reach a
# registry's login server (TLS server name and Host healthreg1.test.berth:PORT) without DNS.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"
serve_start --tls-host healthreg1.test.berth --domain "test.berth:{port}"
configure_client
host=healthreg1.test.berth:$PORT
jq_is "$(cli registry create -n healthreg1)" .loginServer "$host" "login server with the domain's port"
cli registry create -n othername1 >/dev/null

log "every check passes over HTTPS"
out=$(cli check-health -n healthreg1)
jq_is "$out" '[.[].status] | unique | join(",")' ok "every check ok: $out"
jq_is "$out" '.[] | select(.name == "tls") | .detail' "certificate verified with $CA_FILE" "tls detail"
jq_is "$out" '.[] | select(.name == "challenge") | .detail' \
  "GET https://$host/v2/ answered 401 with realm https://$host/oauth2/token" "challenge over https"

log "login over HTTPS; the stored refresh token works"
assert_eq "$(cli login -n healthreg1)" "Login Succeeded" "login"
creds=$(jq -er --arg h "$host" '.auths[$h].auth' "$DOCKER_CONFIG/config.json" | base64 -d)
assert_eq "$(reg_status healthreg1 "$creds" /v2/)" 200 "stored credentials over https"
admin=$(cli registry update -n healthreg1 --admin-enabled true >/dev/null &&
  cli credential renew -n healthreg1 --password-name password --query passwords.0.value -o tsv)
assert_eq "$(cli login -n healthreg1 -u healthreg1 -p "$admin")" "Login Succeeded" "login -u over https"

log "the login server's name is verified: a registry the certificate does not name fails"
rc=0
"$BERTH" check-health -n othername1 >"$TMP/out" 2>"$TMP/err" || rc=$?
assert_eq "$rc" 1 "exit status"
jq_is "$(cat "$TMP/out")" '[.[] | select(.status == "failed") | .name] | join(",")' \
  "challenge,access-token,v2-access" "failed checks for a name outside the certificate"
[[ "$(jq -r '.[] | select(.name == "challenge") | .detail' "$TMP/out")" == "cannot reach https://othername1.test.berth:$PORT/v2/: "* ]] ||
  fail "challenge detail: $(cat "$TMP/out")"

log "without the CA: certificate verification fails"
cli configure --server "$SERVER" --ca-file '' >/dev/null
cli_fails "^berth: cannot reach $SERVER/api/v1/registries: .*certificate" registry list
rc=0
"$BERTH" check-health -n healthreg1 >"$TMP/out" 2>"$TMP/err" || rc=$?
assert_eq "$rc" 1 "exit status without the CA"
jq_is "$(cat "$TMP/out")" '[.[0:2][] | "\(.name)=\(.status)"] | join(",")' "server=failed,tls=failed" \
  "server and tls fail"
[[ "$(jq -r '.[1].detail' "$TMP/out")" == *certificate* ]] || fail "tls detail: $(jq -r '.[1].detail' "$TMP/out")"
