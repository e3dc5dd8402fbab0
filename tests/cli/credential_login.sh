#!/usr/bin/env bash
# berth credential show|renew and berth login: the auth files docker and podman read, the
# refresh-token login, --username, --expose-token, and that what is stored works on /v2/.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"
serve_start
configure_client
cli registry create -n loginreg1 --admin-enabled true >/dev/null
host=loginreg1.$DOMAIN

log "credential show: names only"
out=$(cli credential show -n loginreg1)
jq_is "$out" .username loginreg1 "admin user name"
jq_is "$out" '[.passwords[] | "\(.name)=\(.value)"] | join(",")' "password=null,password2=null" \
  "password names, no values"

log "credential renew: the one value, once; it works on /v2/"
out=$(cli credential renew -n loginreg1 --password-name password2)
jq_is "$out" '.passwords[0] | "\(.name)=\(.value)"' "password=null" "password untouched"
admin_pass=$(jq -r '.passwords[1].value' <<<"$out")
[[ -n "$admin_pass" && "$admin_pass" != null ]] || fail "renew gave no password2 value"
assert_eq "$(reg_status loginreg1 "loginreg1:$admin_pass" /v2/)" 200 "admin password2 on /v2/"
assert_eq "$(reg_status loginreg1 "loginreg1:wrong" /v2/)" 401 "a wrong password on /v2/"
jq_is "$(cli credential show -n loginreg1)" '.passwords[1].value' null "show after renew"
cli_fails '^berth: --password-name must be password or password2, not "password3"$' \
  credential renew -n loginreg1 --password-name password3

# The auth entry for the login server in FILE, decoded: user:password.
stored_auth() { jq -er --arg h "$host" '.auths[$h].auth' "$1" | base64 -d; }

log "login (refresh token): both auth files, mode 0600, other entries kept"
mkdir -p "$DOCKER_CONFIG"
echo '{"auths":{"other.example":{"auth":"b3RoZXI6eA=="}},"HttpHeaders":{"X-Keep":"1"}}' \
  >"$DOCKER_CONFIG/config.json"
out=$(cli login -n loginreg1)
assert_eq "$out" "Login Succeeded" "login output"
docker_file=$DOCKER_CONFIG/config.json
podman_file=$XDG_RUNTIME_DIR/containers/auth.json
for f in "$docker_file" "$podman_file"; do
  assert_eq "$(stat -c %a "$f")" 600 "mode of $f"
  creds=$(stored_auth "$f")
  assert_eq "${creds%%:*}" "$NULL_USER" "user stored in $f"
  assert_eq "$(reg_status loginreg1 "$creds" /v2/)" 200 "refresh token from $f on /v2/"
done
assert_eq "$(stored_auth "$docker_file")" "$(stored_auth "$podman_file")" "same credentials in both"
jq_is "$(cat "$docker_file")" '[.auths["other.example"].auth, .HttpHeaders["X-Keep"]] | @tsv' \
  "b3RoZXI6eA==	1" "other docker entries kept"
assert_eq "$(stat -c %a "$XDG_RUNTIME_DIR/containers")" 700 "mode of the created containers dir"

log "login --username --password: checked on /v2/ first, then stored"
out=$(cli login -n loginreg1 --username loginreg1 --password "$admin_pass")
assert_eq "$out" "Login Succeeded" "login -u output"
assert_eq "$(stored_auth "$docker_file")" "loginreg1:$admin_pass" "docker credentials after login -u"
assert_eq "$(stored_auth "$podman_file")" "loginreg1:$admin_pass" "podman credentials after login -u"
before=$(sha256sum "$docker_file" "$podman_file")
cli_fails "^berth: login to $host failed: wrong user name or password$" \
  login -n loginreg1 -u loginreg1 -p wrong-password
cli_fails '^berth: --username and --password go together$' login -n loginreg1 -u loginreg1
assert_eq "$(sha256sum "$docker_file" "$podman_file")" "$before" "auth files after failed logins"

log "REGISTRY_AUTH_FILE wins over XDG_RUNTIME_DIR, as for podman and skopeo"
REGISTRY_AUTH_FILE=$TMP/custom/auth.json cli login -n loginreg1 >/dev/null
assert_eq "$(stored_auth "$TMP/custom/auth.json" | cut -d: -f1)" "$NULL_USER" "REGISTRY_AUTH_FILE entry"
assert_eq "$(stat -c %a "$TMP/custom/auth.json")" 600 "mode of REGISTRY_AUTH_FILE"

log "without DOCKER_CONFIG: ~/.docker/config.json"
(
  unset DOCKER_CONFIG
  cli login -n loginreg1 >/dev/null
  assert_eq "$(stored_auth "$HOME/.docker/config.json" | cut -d: -f1)" "$NULL_USER" "entry in \$HOME/.docker/config.json"
)

log "--expose-token: prints the token, writes nothing"
before=$(sha256sum "$docker_file" "$podman_file")
out=$(cli login -n loginreg1 --expose-token)
jq_is "$out" '[.loginServer, .username] | @tsv' "$host	$NULL_USER" "expose-token fields"
jq_is "$out" 'keys | join(",")' "accessToken,loginServer,username" "expose-token keys"
token=$(jq -r .accessToken <<<"$out")
assert_eq "$(reg_status loginreg1 "$NULL_USER:$token" /v2/)" 200 "exposed token as a password"
assert_eq "$(sha256sum "$docker_file" "$podman_file")" "$before" "auth files after --expose-token"
cli_fails '^berth: --expose-token gets a token for the operator; it takes no --username$' \
  login -n loginreg1 --expose-token -u loginreg1 -p x

log "a broken auth file is left alone, and then the other one is not written either"
echo '[1, 2]' >"$podman_file"
before=$(sha256sum "$docker_file")
cli_fails "^berth: $podman_file is not a JSON object; fix or remove it$" login -n loginreg1
assert_eq "$(cat "$podman_file")" "[1, 2]" "broken auth file untouched"
assert_eq "$(sha256sum "$docker_file")" "$before" "docker file when the podman file is broken"

log "unknown registry"
cli_fails '\(NOT_FOUND\)$' login -n nosuchreg1
cli_fails '\(NOT_FOUND\)$' credential show -n nosuchreg1
