#!/usr/bin/env bash
# Two registries on one berth (`serve --domain`), reached by real clients at
# <name>.<domain>:<port> (resolved to 127.0.0.1 through a private /etc/hosts in the clients' own
# mount namespace): created with the control API, the same image pushed to both with skopeo
# (--dest-creds) and podman (login + push), each registry's credentials refused by the other, a
# digest pushed to one only is unknown in the other, and deleting one registry leaves the other
# pulling.
# Usage: two_registries.sh /path/to/berth
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
if [[ -n "${E2E_REGISTRY:-}" ]]; then
  echo "SKIP [$TEST_NAME]: starts berth itself with --domain and reads its operator token (E2E_REGISTRY is set)"
  exit 77
fi
DOMAIN=berth-e2e.test
E2E_SERVE_ARGS=(--domain "$DOMAIN")
e2e_start "$@"
PORT=${REG##*:}

hex() { od -An -N4 -tx1 /dev/urandom | tr -d ' \n'; }

# create_registry NAME: a registry with its admin account enabled; prints the admin's password.
create_registry() {
  control_api POST /api/v1/registries "{\"name\":\"$1\",\"adminUserEnabled\":true}"
  expect_status 201 "create registry $1"
  assert_eq "$(jq -r .loginServer "$TMP/http.body" | sed "s/:$PORT\$//")" "$1.$DOMAIN" "loginServer of $1"
  control_api POST "/api/v1/registries/$1/credentials/renew" '{"name":"password"}'
  expect_status 200 "renew the admin password of $1"
  jq -er '.passwords[] | select(.name == "password") | .value' "$TMP/http.body"
}

# digest_at HOST USER:PASSWORD REF: digest of the manifest bytes skopeo reads back.
digest_at() {
  skopeo_cmd inspect --raw --tls-verify=false --creds "$2" "docker://$1/$3" | sha256
}

# must_fail WHAT PATTERN CMD...: CMD fails and its output matches PATTERN (case-insensitive ERE).
must_fail() {
  local what=$1 pattern=$2 out
  shift 2
  if out=$("$@" 2>&1); then fail "$what: succeeded, it must not: $out"; fi
  grep -Eqi -- "$pattern" <<<"$out" || fail "$what: failed without /$pattern/: $out"
  log "$what: refused as expected ($(tail -n 1 <<<"$out" | cut -c1-160))"
}

A=alpha$(hex)
B=beta$(hex)
log "create registries $A and $B through the control API"
PW_A=$(create_registry "$A")
PW_B=$(create_registry "$B")
HOST_A=$A.$DOMAIN:$PORT
HOST_B=$B.$DOMAIN:$PORT
resolve_in_clients "$HOST_A" "$HOST_B"

log "images: v1 for both registries, only-a for $A only"
make_image "$TMP/src" v1 2
make_image "$TMP/src" only-a 1
src_digest=$(layout_digest "$TMP/src" v1)
only_a_digest=$(layout_digest "$TMP/src" only-a)
# podman takes the image from the default registry (127.0.0.1, lib.sh's login) into its store.
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:v1" "docker://$REG/e2e/src:v1"
podman_id=$(podman_pull "$REG/e2e/src:v1")

declare -A PW=([$HOST_A]=$PW_A [$HOST_B]=$PW_B) USER_OF=([$HOST_A]=$A [$HOST_B]=$B)
declare -A PODMAN_DIGEST
for host in "$HOST_A" "$HOST_B"; do
  user=${USER_OF[$host]}
  log "skopeo push -> $host/e2e/app:v1 (--dest-creds $user)"
  skopeo_cmd copy --quiet --dest-tls-verify=false --dest-creds "$user:${PW[$host]}" \
    --digestfile "$TMP/push.digest" "oci:$TMP/src:v1" "docker://$host/e2e/app:v1"
  assert_eq "$(cat "$TMP/push.digest")" "$src_digest" "digest skopeo reports for $host"
  assert_eq "$(digest_at "$host" "$user:${PW[$host]}" e2e/app:v1)" "$src_digest" "digest read back from $host"

  log "podman login $host, podman push -> $host/e2e/app:v2"
  podman_cmd login --tls-verify=false -u "$user" --password-stdin "$host" <<<"${PW[$host]}" >/dev/null
  podman_push --digestfile "$TMP/podman.digest" "$podman_id" "docker://$host/e2e/app:v2"
  PODMAN_DIGEST[$host]=$(cat "$TMP/podman.digest")
  [[ "${PODMAN_DIGEST[$host]}" == sha256:* ]] || fail "podman push to $host wrote no digest"
  assert_eq "$(digest_at "$host" "$user:${PW[$host]}" e2e/app:v2)" "${PODMAN_DIGEST[$host]}" \
    "podman-pushed digest read back from $host"
done

log "skopeo push only-a -> $HOST_A only"
skopeo_cmd copy --quiet --dest-tls-verify=false --dest-creds "$A:$PW_A" \
  "oci:$TMP/src:only-a" "docker://$HOST_A/e2e/app:only-a"
assert_eq "$(digest_at "$HOST_A" "$A:$PW_A" e2e/app:only-a)" "$only_a_digest" "only-a in $A"

log "each registry's credentials are refused by the other"
unauthorized='unauthori[sz]ed|authentication required|401'
must_fail "skopeo inspect $HOST_B with $A's credentials" "$unauthorized" \
  skopeo_cmd inspect --raw --tls-verify=false --creds "$A:$PW_A" "docker://$HOST_B/e2e/app:v1"
must_fail "skopeo inspect $HOST_A with $B's credentials" "$unauthorized" \
  skopeo_cmd inspect --raw --tls-verify=false --creds "$B:$PW_B" "docker://$HOST_A/e2e/app:v1"
must_fail "skopeo push to $HOST_B with $A's credentials" "$unauthorized" \
  skopeo_cmd copy --quiet --dest-tls-verify=false --dest-creds "$A:$PW_A" \
  "oci:$TMP/src:only-a" "docker://$HOST_B/e2e/app:stolen"
must_fail "podman login $HOST_B as $A" "$unauthorized|invalid username/password" \
  podman_cmd login --tls-verify=false -u "$A" --password-stdin "$HOST_B" <<<"$PW_A"
must_fail "podman login $HOST_A with $B's password" "$unauthorized|invalid username/password" \
  podman_cmd login --tls-verify=false -u "$A" --password-stdin "$HOST_A" <<<"$PW_B"
# The default registry's admin (lib.sh's credentials) is unknown to both.
must_fail "skopeo inspect $HOST_A as the default registry's admin" "$unauthorized" \
  skopeo_cmd inspect --raw --tls-verify=false --creds "$REG_USER:$REG_PASS" "docker://$HOST_A/e2e/app:v1"

log "a digest pushed to $A only is unknown in $B"
must_fail "skopeo inspect $HOST_B/e2e/app@only-a" 'manifest unknown' \
  skopeo_cmd inspect --raw --tls-verify=false --creds "$B:$PW_B" "docker://$HOST_B/e2e/app@$only_a_digest"
http GET "/v2/e2e/app/manifests/$only_a_digest" -H "Host: $HOST_B" -u "$B:$PW_B" \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json'
expect_status 404 "GET only-a's manifest by digest in $B"
only_a_layer=$(jq -r '.layers[0].digest' "$(layout_manifest "$TMP/src" only-a)")
http GET "/v2/e2e/app/blobs/$only_a_layer" -H "Host: $HOST_B" -u "$B:$PW_B"
expect_status 404 "GET only-a's layer by digest in $B"
http GET "/v2/e2e/app/blobs/$only_a_layer" -H "Host: $HOST_A" -u "$A:$PW_A"
expect_status 200 "GET only-a's layer by digest in $A"
http GET /v2/e2e/app/tags/list -H "Host: $HOST_B" -u "$B:$PW_B"
expect_status 200 "tags of e2e/app in $B"
assert_eq "$(jq -c .tags "$TMP/http.body")" '["v1","v2"]' "tags of e2e/app in $B"

log "delete registry $A; $B is intact"
control_api DELETE "/api/v1/registries/$A"
expect_status 204 "DELETE registry $A"
must_fail "skopeo inspect $HOST_A after its deletion" 'not found|404|unknown' \
  skopeo_cmd inspect --raw --tls-verify=false --creds "$A:$PW_A" "docker://$HOST_A/e2e/app:v1"
skopeo_cmd copy --quiet --src-tls-verify=false --src-creds "$B:$PW_B" \
  "docker://$HOST_B/e2e/app:v1" "oci:$TMP/back:v1"
assert_same_image "$TMP/src" v1 "$TMP/back" v1
podman_cmd rmi --all --force >/dev/null
podman_pull "$HOST_B/e2e/app:v2" >/dev/null
assert_eq "$(podman_cmd image inspect --format '{{.Digest}}' "$HOST_B/e2e/app:v2")" \
  "${PODMAN_DIGEST[$HOST_B]}" "podman pull of $HOST_B/e2e/app:v2 after $A was deleted"
control_api GET "/api/v1/registries/$B/repositories"
expect_status 200 "repositories of $B"
assert_eq "$(jq -c . "$TMP/http.body")" '["e2e/app"]' "repositories of $B"
