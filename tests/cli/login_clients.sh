#!/usr/bin/env bash
# berth login, then real clients with nothing but what it stored: skopeo pushes and pulls
# through ${XDG_RUNTIME_DIR}/containers/auth.json, the docker CLI reads the manifest through
# $DOCKER_CONFIG/config.json. The login server resolves to loopback inside a private mount
# namespace whose /etc/hosts is a copy; the machine's file is untouched.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"
serve_start --domain 'clients.test:{port}'
configure_client
cli registry create -n pushreg1 >/dev/null
host=pushreg1.clients.test:$PORT
assert_eq "$(cli registry show -n pushreg1 --query loginServer -o tsv)" "$host" "login server"

cp /etc/hosts "$TMP/hosts"
echo "127.0.0.1 pushreg1.clients.test" >>"$TMP/hosts"
policy=$TMP/policy.json
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$policy"
# in_namespace CMD...: CMD with the private /etc/hosts.
in_namespace() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  HOSTS_FILE=$TMP/hosts timeout --foreground 120 unshare --mount \
    bash -c 'mount --bind "$HOSTS_FILE" /etc/hosts && exec "$@"' _ "$@"
}
image=docker://$host/team/app:v1

umoci init --layout "$TMP/img"
umoci new --image "$TMP/img:v1"
head -c 65536 /dev/urandom >"$TMP/layer.bin"
umoci insert --rootless --image "$TMP/img:v1" "$TMP/layer.bin" /data/layer.bin

log "without berth login, skopeo is refused"
if in_namespace skopeo --policy "$policy" copy --quiet --dest-tls-verify=false \
  "oci:$TMP/img:v1" "$image" 2>"$TMP/refused.err"; then
  fail "skopeo pushed without credentials"
fi
grep -qi "unauthorized\|authentication required" "$TMP/refused.err" ||
  fail "skopeo's refusal: $(cat "$TMP/refused.err")"

log "berth login; skopeo pushes and pulls with the stored refresh token"
assert_eq "$(cli login -n pushreg1)" "Login Succeeded" "login"
in_namespace skopeo --policy "$policy" copy --quiet --dest-tls-verify=false \
  --digestfile "$TMP/pushed.digest" "oci:$TMP/img:v1" "$image"
in_namespace skopeo --policy "$policy" copy --quiet --src-tls-verify=false \
  "$image" "oci:$TMP/back:v1"
assert_eq "$(jq -r '.manifests[0].digest' "$TMP/back/index.json")" "$(cat "$TMP/pushed.digest")" \
  "digest pulled back"
jq_is "$(cli repository show-tags -n pushreg1 --repository team/app --detail)" \
  '.[0].digest' "$(cat "$TMP/pushed.digest")" "the tag berth shows"

log "the docker CLI reads the manifest with the credentials berth login stored"
in_namespace docker manifest inspect --insecure "$host/team/app:v1" >"$TMP/docker.json"
jq_is "$(cat "$TMP/docker.json")" '.layers | length' 1 "layers docker sees"
