#!/usr/bin/env bash
# Authentication with real clients (tests/AUTH_CONTRACT.md): skopeo/podman login with a wrong
# and a right password; push and pull as the admin, with a push token and with a pull-only
# token (whose push fails); anonymous pull off and on; docker and curl with credentials and the
# token flow; then HTTPS with the dev CA (`berth admin dev-cert`), the certificate verified.
# Usage: e2e_login.sh /path/to/berth   (or BERTH_BIN=...; it administers the server, so no
# E2E_REGISTRY mode)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
source "$(dirname "$0")/../e2e/lib.sh"
if [[ -n "${E2E_REGISTRY:-}" ]]; then
  echo "SKIP [$TEST_NAME]: needs a berth binary (it runs berth admin), not E2E_REGISTRY"
  exit 0
fi
e2e_start "$@"

# expect_failure OUT CMD...: CMD must fail; its stdout+stderr go to OUT.
expect_failure() {
  local out=$1
  shift
  if "$@" >"$out" 2>&1; then fail "should have failed: $*"; fi
}
# expect_message OUT REGEX WHAT: the client said why (case-insensitive extended regex).
expect_message() {
  grep -Eqi "$2" "$1" || fail "$3: output does not match /$2/: $(head -c 800 "$1")"
}
AUTH_ERROR='unauthorized|authentication required|invalid username/password|denied|insufficient_scope|requested access'
# anonymous_podman_pull IMAGE: podman pull with no credentials (podman also reads DOCKER_CONFIG).
anonymous_podman_pull() {
  DOCKER_CONFIG=$TMP/no-docker-config podman_pull --authfile "$TMP/empty-auth.json" "$@"
}
# token_password NAME ARGS...: create a token, print its password1.
token_password() {
  local name=$1
  shift
  "$BERTH" admin token create --data "$DATA" --name "$name" "$@" |
    jq -er '.credentials.passwords[] | select(.name == "password1") | .value'
}
# with_curl_auth ARGS... -- CMD...: run CMD with CURL_AUTH=(ARGS) (none when ARGS is empty).
with_curl_auth() {
  local saved=("${CURL_AUTH[@]}") rc=0
  CURL_AUTH=()
  while [[ "$1" != -- ]]; do CURL_AUTH+=("$1"); shift; done
  shift
  "$@" || rc=$?
  CURL_AUTH=("${saved[@]}")
  return "$rc"
}

make_image "$TMP/src" v1 2
src_digest=$(layout_digest "$TMP/src" v1)
echo '{}' >"$TMP/empty-auth.json"

# --- login -------------------------------------------------------------------------------------
for client in skopeo podman; do
  log "$client login: wrong password refused with a clear message, right password accepted"
  authfile=$TMP/login-$client.json
  echo '{}' >"$authfile"
  expect_failure "$TMP/out" "${client}_cmd" login --authfile "$authfile" --tls-verify=false \
    -u "$REG_USER" -p "wrong-$RANDOM" "$REG"
  expect_message "$TMP/out" 'unauthorized|invalid username/password|invalid credentials' "$client login, wrong password"
  jq -e --arg r "$REG" '.auths[$r] == null' "$authfile" >/dev/null || fail "$client stored refused credentials"
  "${client}_cmd" login --authfile "$authfile" --tls-verify=false -u "$REG_USER" --password-stdin \
    "$REG" <<<"$REG_PASS" >"$TMP/out" 2>&1 || fail "$client login: $(cat "$TMP/out")"
  expect_message "$TMP/out" 'login succeeded' "$client login"
  jq -e --arg r "$REG" '.auths[$r].auth' "$authfile" >/dev/null || fail "$client login stored nothing"
done

log "docker login (client side): wrong password refused, right password works for docker manifest inspect"
mkdir -p "$TMP/docker-login"
docker_login() {
  DOCKER_CONFIG=$TMP/docker-login timeout --foreground "$CMD_TIMEOUT" docker login -u "$REG_USER" --password-stdin "$REG"
}
expect_failure "$TMP/out" docker_login <<<"wrong-$RANDOM"
if grep -qi 'docker daemon' "$TMP/out"; then
  log "this docker CLI logs in through a daemon: docker login skipped"
else
  expect_message "$TMP/out" 'unauthorized|invalid username/password|invalid credentials' "docker login, wrong password"
  docker_login <<<"$REG_PASS" >"$TMP/out" 2>&1 || fail "docker login: $(cat "$TMP/out")"
  expect_message "$TMP/out" 'login succeeded' "docker login"
fi

# --- admin ---------------------------------------------------------------------------------------
log "push and pull as the admin (logged in by lib.sh)"
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:v1" "docker://$REG/auth/admin:v1"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/auth/admin:v1" "oci:$TMP/back:admin"
assert_same_image "$TMP/src" v1 "$TMP/back" admin
podman_pull "$REG/auth/admin:v1" >/dev/null
assert_eq "$(podman_cmd image inspect --format '{{.Digest}}' "$REG/auth/admin:v1")" "$src_digest" "podman pull as the admin"
docker_manifest_inspect "$REG/auth/admin:v1" >/dev/null || fail "docker manifest inspect with credentials"
if [[ -s "$TMP/docker-login/config.json" ]]; then
  DOCKER_CONFIG=$TMP/docker-login docker_manifest_inspect "$REG/auth/admin:v1" >/dev/null ||
    fail "docker manifest inspect after docker login"
fi
expect_failure "$TMP/out" env DOCKER_CONFIG="$TMP/no-docker-config" docker manifest inspect --insecure "$REG/auth/admin:v1"
expect_message "$TMP/out" "$AUTH_ERROR" "docker manifest inspect without credentials"

# --- tokens --------------------------------------------------------------------------------------
push_pass=$(token_password pusher --scope-map _repositories_push)
pull_pass=$(token_password puller --scope-map _repositories_pull)

log "push token: skopeo and podman push, pull back"
skopeo_cmd copy --quiet --dest-tls-verify=false --dest-creds "pusher:$push_pass" \
  "oci:$TMP/src:v1" "docker://$REG/auth/pushed:v1"
skopeo_cmd copy --quiet --src-tls-verify=false --src-creds "pusher:$push_pass" \
  "docker://$REG/auth/pushed:v1" "oci:$TMP/back:pushed"
assert_same_image "$TMP/src" v1 "$TMP/back" pushed
podman_push --creds "pusher:$push_pass" "$REG/auth/admin:v1" "docker://$REG/auth/podman-pushed:v1"
assert_eq "$(remote_digest auth/podman-pushed:v1 | cut -c1-7)" "sha256:" "podman push with a push token"

log "pull-only token: pulls, cannot push"
skopeo_cmd copy --quiet --src-tls-verify=false --src-creds "puller:$pull_pass" \
  "docker://$REG/auth/pushed:v1" "oci:$TMP/back:pulled"
assert_same_image "$TMP/src" v1 "$TMP/back" pulled
podman_pull --creds "puller:$pull_pass" "$REG/auth/pushed:v1" >/dev/null
expect_failure "$TMP/out" skopeo_cmd copy --quiet --dest-tls-verify=false --dest-creds "puller:$pull_pass" \
  "oci:$TMP/src:v1" "docker://$REG/auth/pull-only:v1"
expect_message "$TMP/out" "$AUTH_ERROR" "skopeo push with a pull-only token"
expect_failure "$TMP/out" podman_push --creds "puller:$pull_pass" "$REG/auth/admin:v1" "docker://$REG/auth/pull-only:v2"
expect_message "$TMP/out" "$AUTH_ERROR" "podman push with a pull-only token"
http GET /v2/auth/pull-only/tags/list
[[ "$HTTP_STATUS" == 404 ]] || fail "the refused pushes left tags in auth/pull-only: HTTP $HTTP_STATUS $(body)"

# --- anonymous pull ------------------------------------------------------------------------------
log "anonymous pull refused while disabled (the default)"
expect_failure "$TMP/out" skopeo_cmd copy --quiet --src-tls-verify=false --src-no-creds \
  "docker://$REG/auth/admin:v1" "oci:$TMP/back:anon-off"
expect_message "$TMP/out" "$AUTH_ERROR" "anonymous skopeo pull"
expect_failure "$TMP/out" anonymous_podman_pull "$REG/auth/pushed:v1"
expect_message "$TMP/out" "$AUTH_ERROR" "anonymous podman pull"

log "anonymous pull enabled: pulls work without credentials, pushes and the catalog do not"
"$BERTH" admin update --data "$DATA" --anonymous-pull-enabled true | jq -e '.anonymousPullEnabled == true' >/dev/null
skopeo_cmd copy --quiet --src-tls-verify=false --src-no-creds \
  "docker://$REG/auth/admin:v1" "oci:$TMP/back:anon"
assert_same_image "$TMP/src" v1 "$TMP/back" anon
podman_cmd rmi --force "$REG/auth/pushed:v1" >/dev/null
anonymous_podman_pull "$REG/auth/pushed:v1" >/dev/null
expect_failure "$TMP/out" skopeo_cmd copy --quiet --dest-tls-verify=false --dest-no-creds \
  "oci:$TMP/src:v1" "docker://$REG/auth/anon-push:v1"
expect_message "$TMP/out" "$AUTH_ERROR" "anonymous skopeo push"
with_curl_auth -- http GET /v2/auth/admin/tags/list
expect_status 200 "anonymous tags list"
with_curl_auth -- http GET /v2/_catalog
expect_status 401 "anonymous catalog"
with_curl_auth -- http GET /v2/
expect_status 401 "anonymous GET /v2/"
"$BERTH" admin update --data "$DATA" --anonymous-pull-enabled false >/dev/null
expect_failure "$TMP/out" skopeo_cmd copy --quiet --src-tls-verify=false --src-no-creds \
  "docker://$REG/auth/admin:v1" "oci:$TMP/back:anon-off-again"

# --- curl ----------------------------------------------------------------------------------------
log "curl: challenge, Basic straight to /v2/, the token flow"
with_curl_auth -- http GET /v2/
expect_status 401 "GET /v2/ without credentials"
www=$(header WWW-Authenticate)
[[ "$www" == "Bearer realm=\"http://$REG/oauth2/token\",service=\"$REG\""* ]] ||
  fail "WWW-Authenticate: '$www'"
jq -e '.errors[0].code == "UNAUTHORIZED"' "$TMP/http.body" >/dev/null || fail "401 body: $(body)"
with_curl_auth -u "$REG_USER:wrong" -- http GET /v2/
expect_status 401 "GET /v2/ with a wrong password"
http GET /v2/
expect_status 200 "GET /v2/ with Basic"
with_curl_auth -u "puller:$pull_pass" -- http DELETE "/v2/auth/pushed/manifests/v1"
expect_status 403 "DELETE with the pull token's Basic"
jq -e '.errors[0].code == "DENIED"' "$TMP/http.body" >/dev/null || fail "403 body: $(body)"
http GET "/oauth2/token?service=$REG&scope=repository:auth/pushed:pull"
expect_status 200 "GET /oauth2/token"
token=$(jq -er .token "$TMP/http.body")
with_curl_auth -H "Authorization: Bearer $token" -- http GET /v2/auth/pushed/manifests/v1 \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json'
expect_status 200 "GET manifest with the bearer token"
assert_eq "$(header Docker-Content-Digest)" "$src_digest" "manifest digest with the bearer token"
with_curl_auth -H "Authorization: Bearer $token" -- http DELETE "/v2/auth/pushed/manifests/$src_digest"
expect_status 401 "DELETE with a pull token"
[[ "$(header WWW-Authenticate)" == *'error="insufficient_scope"'* ]] ||
  fail "no insufficient_scope in '$(header WWW-Authenticate)'"

# --- HTTPS ---------------------------------------------------------------------------------------
log "HTTPS with the dev CA"
"$BERTH" admin dev-cert --out "$TMP/tls" >/dev/null
for f in ca.crt ca.key server.crt server.key; do [[ -s "$TMP/tls/$f" ]] || fail "dev-cert wrote no $f"; done
openssl verify -CAfile "$TMP/tls/ca.crt" "$TMP/tls/server.crt" >/dev/null || fail "server.crt is not signed by ca.crt"
sans=$(openssl x509 -in "$TMP/tls/server.crt" -noout -ext subjectAltName)
for san in DNS:localhost "IP Address:127.0.0.1" "IP Address:0:0:0:0:0:0:0:1"; do
  [[ "$sans" == *"$san"* ]] || fail "server.crt lacks SAN $san: $sans"
done
mkdir -p "$TMP/ca"
cp "$TMP/tls/ca.crt" "$TMP/ca/"   # a cert dir with the CA only (a lone *.key would be a client key)

# A second berth on its own data directory, HTTPS only; its admin becomes REG_USER/REG_PASS.
tls_data=$TMP/data-tls
mkdir -p "$tls_data"
admin_login_setup "$tls_data"
tport=$(free_port)
treg=127.0.0.1:$tport
setsid "$BERTH" serve --listen "$treg" --data "$tls_data" \
  --tls-cert "$TMP/tls/server.crt" --tls-key "$TMP/tls/server.key" >"$TMP/server-tls.out" 2>"$TMP/server-tls.log" &
EXTRA_PIDS+=("$!")
for ((i = 0; i < 100; i++)); do
  curl -fsS --max-time 2 -o /dev/null --cacert "$TMP/tls/ca.crt" "${CURL_AUTH[@]}" "https://$treg/v2/" 2>/dev/null && break
  kill -0 "${EXTRA_PIDS[-1]}" 2>/dev/null || fail "HTTPS server exited: $(tail -n 20 "$TMP/server-tls.log")"
  sleep 0.1
done
((i < 100)) || fail "HTTPS server did not answer within 10s: $(tail -n 20 "$TMP/server-tls.log")"

code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${CURL_AUTH[@]}" "http://$treg/v2/" || true)
[[ "$code" != 2* ]] || fail "plain HTTP on the HTTPS listener answered $code"
rc=0
curl -sS -o /dev/null --max-time 5 "${CURL_AUTH[@]}" "https://$treg/v2/" 2>"$TMP/out" || rc=$?
((rc == 60)) || fail "curl without the CA: exit $rc (want 60, certificate not trusted): $(cat "$TMP/out")"
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$TMP/tls/ca.crt" "${CURL_AUTH[@]}" "https://localhost:$tport/v2/")" \
  200 "curl https://localhost (SAN)"
www=$(curl -sS -o /dev/null -D - --cacert "$TMP/tls/ca.crt" "https://$treg/v2/" | grep -i '^WWW-Authenticate:' | tr -d '\r' || true)
[[ "$www" == *"realm=\"https://$treg/oauth2/token\""* ]] || fail "HTTPS challenge realm: '$www'"

log "HTTPS: skopeo login/push/pull and podman push/pull, certificate verified with the dev CA"
tls_auth=$TMP/tls-auth.json
echo '{}' >"$tls_auth"
expect_failure "$TMP/out" skopeo_cmd login --authfile "$tls_auth" --tls-verify=true \
  -u "$REG_USER" --password-stdin "$treg" <<<"$REG_PASS"
expect_message "$TMP/out" 'x509|certificate' "skopeo login over HTTPS without the CA"
skopeo_cmd login --authfile "$tls_auth" --tls-verify=true --cert-dir "$TMP/ca" \
  -u "$REG_USER" --password-stdin "$treg" <<<"$REG_PASS" >/dev/null
skopeo_cmd copy --quiet --dest-tls-verify=true --dest-cert-dir "$TMP/ca" --dest-authfile "$tls_auth" \
  "oci:$TMP/src:v1" "docker://$treg/tls/app:v1"
skopeo_cmd copy --quiet --src-tls-verify=true --src-cert-dir "$TMP/ca" --src-authfile "$tls_auth" \
  "docker://$treg/tls/app:v1" "oci:$TMP/back:tls"
assert_same_image "$TMP/src" v1 "$TMP/back" tls
podman_cmd push --quiet --tls-verify=true --cert-dir "$TMP/ca" --authfile "$tls_auth" \
  --signature-policy "$POLICY" "$REG/auth/admin:v1" "docker://$treg/tls/podman:v1"
podman_cmd pull --quiet --tls-verify=true --cert-dir "$TMP/ca" --authfile "$tls_auth" \
  --signature-policy "$POLICY" "$treg/tls/podman:v1" >/dev/null
expect_failure "$TMP/out" podman_cmd pull --quiet --tls-verify=true --authfile "$tls_auth" \
  --signature-policy "$POLICY" "$treg/tls/podman:v1"
expect_message "$TMP/out" 'x509|certificate' "podman pull over HTTPS without the CA"
