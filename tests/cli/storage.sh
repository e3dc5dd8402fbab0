#!/usr/bin/env bash
# Registries in object stores from the CLI: `registry create --storage URL` for S3 and Azure
# Blob (the emulators tools/emulator started in BERTH_TEST_STORE_S3 and BERTH_TEST_STORE_AZURE),
# refused in one line when the store cannot be reached; images pushed and pulled through them,
# with and without redirects; a blob lost from the store reads as unknown; deleting a registry
# removes its objects; `berth serve --storage` refuses a store it cannot reach, and trusts one
# on HTTPS with a private CA only when told to.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"
for kind in S3 AZURE; do
  var=BERTH_TEST_STORE_$kind
  [[ -n "${!var:-}" && -f "${!var}/url" ]] || fail "$var must name a started emulator (tools/emulator)"
  # shellcheck disable=SC1091
  source "${!var}/env"
done
s3_url=$(cat "$BERTH_TEST_STORE_S3/url")
azure_url=$(cat "$BERTH_TEST_STORE_AZURE/url")
# at URL PREFIX [PARAMS]: the store URL with its own prefix (and more parameters).
at() { local u=${1/\?//$2?}; echo "$u${3:-}"; }
emulator=$(dirname "$0")/../../tools/emulator
serve_start
configure_client

for kind in s3 azure; do
  url=$([[ $kind == s3 ]] && echo "$s3_url" || echo "$azure_url")
  name=${kind}reg$RANDOM
  log "$kind: a registry in the store"
  out=$(cli registry create -n "$name" --storage "$(at "$url" "cli-$name")")
  jq_is "$out" .storage "$(at "$url" "cli-$name")" "storage of the new registry"
  jq_is "$out" .storagePath null "no directory for an object store"
  login_as_operator "$name"
  digest=$(push_image "$name" app v1)
  status=$(reg_curl "$name" -u "$REG_USER:$REG_PASS" -o "$TMP/manifest" -w '%{http_code}' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$(reg_url "$name" /v2/app/manifests/v1)")
  assert_eq "$status" 200 "manifest GET"
  layer=$(jq -r '.layers[0].digest' "$TMP/manifest")
  cp "$TMP/manifest" "$TMP/manifest.$name"
  reg_curl "$name" -u "$REG_USER:$REG_PASS" -o "$TMP/layer" "$(reg_url "$name" "/v2/app/blobs/$layer")"
  assert_eq "$(file_digest "$TMP/layer")" "$layer" "the layer read back through berth"
  own_layer=$layer
  [[ -n "$digest" ]] || fail "no manifest digest"

  log "$kind: with redirects, blob GETs send the client to the store, which serves the bytes"
  redirected=${kind}rdr$RANDOM
  cli registry create -n "$redirected" --storage "$(at "$url" "cli-$redirected" "&redirect=true")" >/dev/null
  login_as_operator "$redirected"
  push_image "$redirected" app v1 >/dev/null
  reg_curl "$redirected" -u "$REG_USER:$REG_PASS" -o "$TMP/manifest" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$(reg_url "$redirected" /v2/app/manifests/v1)"
  layer=$(jq -r '.layers[0].digest' "$TMP/manifest")
  status=$(reg_curl "$redirected" -u "$REG_USER:$REG_PASS" -o /dev/null -w '%{http_code} %{redirect_url}' \
    "$(reg_url "$redirected" "/v2/app/blobs/$layer")")
  [[ "$status" == "307 http://127.0.0.1:"* ]] || fail "blob GET with redirects: $status"
  reg_curl "$redirected" -u "$REG_USER:$REG_PASS" -L -o "$TMP/layer" \
    "$(reg_url "$redirected" "/v2/app/blobs/$layer")"
  assert_eq "$(file_digest "$TMP/layer")" "$layer" "the layer read from the store itself"

  log "$kind: a place inside another registry's is refused"
  cli_fails 'overlaps the storage of registry' registry create -n "${kind}overlap1" \
    --storage "$(at "$url" "cli-$name/inner")"

  store_var=BERTH_TEST_STORE_${kind^^}
  objects() { "$emulator" list "${!store_var}" "cli-$name/" | wc -l; }
  (($(objects) >= 2)) || fail "no objects of $name in $kind"  # the layer and the config blob
  blob_key() { local hex=${1#sha256:}; echo "cli-$name/blobs/sha256/${hex:0:2}/$hex"; }
  log "$kind: a blob lost from the store behind berth's back is 404 BLOB_UNKNOWN, and the connection goes on"
  login_as_operator "$name"
  config=$(jq -r '.config.digest' "$TMP/manifest.$name")
  "$emulator" remove "${!store_var}" "$(blob_key "$config")"
  out=$(reg_curl "$name" -u "$REG_USER:$REG_PASS" -o "$TMP/lost" -w '%{http_code} %{num_connects}\n' \
    "$(reg_url "$name" "/v2/app/blobs/$config")" -o /dev/null "$(reg_url "$name" /v2/)")
  assert_eq "$out" $'404 1\n200 0' "lost blob GET, then /v2/ on the same connection"
  grep -q '"BLOB_UNKNOWN"' "$TMP/lost" || fail "lost blob GET: $(cat "$TMP/lost")"

  log "$kind: a layer read through berth once is read again from the node's copy, store or not"
  [[ -f "$DATA/cache/sha256/${own_layer#sha256:}" ]] || fail "no copy of $own_layer in $DATA/cache"
  "$emulator" remove "${!store_var}" "$(blob_key "$own_layer")"
  reg_curl "$name" -u "$REG_USER:$REG_PASS" -o "$TMP/again" "$(reg_url "$name" "/v2/app/blobs/$own_layer")"
  assert_eq "$(file_digest "$TMP/again")" "$own_layer" "the layer read again from the copy"

  log "$kind: deleting the registry removes its objects"
  push_image "$name" other v1 >/dev/null
  (($(objects) >= 2)) || fail "no objects of $name in $kind before the delete"
  cli registry delete -n "$name" --yes >/dev/null
  assert_eq "$(objects)" 0 "objects left behind in $kind"
done

log "stores that cannot be reached are refused in one line"
cli_fails 'NoSuchBucket' registry create -n badbucket1 \
  --storage "$(at "${s3_url/berth-test/no-such-bucket}" x)"
cli_fails 'ContainerNotFound' registry create -n badcontainer1 \
  --storage "$(at "${azure_url/berth-test/no-such-container}" x)"
cli_fails 'unknown scheme "ftp"' registry create -n badscheme1 --storage ftp://host/path
cli_fails 'credentials do not belong in the URL' registry create -n badcreds1 \
  --storage 's3://key:secret@bucket1'
cli_fails '(NOT_FOUND)' registry show -n badbucket1

log "berth serve refuses a store it cannot reach, in one line"
rc=0
"$BERTH" serve --listen "127.0.0.1:$(free_port)" --data "$TMP/data2" \
  --storage "$(at "${s3_url/berth-test/no-such-bucket}" x)" >"$TMP/serve.out" 2>"$TMP/serve.err" || rc=$?
((rc != 0)) || fail "berth serve started on a missing bucket"
grep -q 'NoSuchBucket' "$TMP/serve.err" || fail "berth serve: $(cat "$TMP/serve.err")"
[[ $(grep -vc '^{' "$TMP/serve.err") == 1 ]] || fail "berth serve: want one line, got: $(cat "$TMP/serve.err")"

log "a store on HTTPS with a private CA: refused until its CA is given (storage_ca_file or AWS_CA_BUNDLE)"
"$emulator" start s3 "$TMP/s3tls" --tls >/dev/null
AT_EXIT+=("'$emulator' stop '$TMP/s3tls'")
tls_url=$(at "$(cat "$TMP/s3tls/url")" tls)
[[ "$tls_url" == *endpoint=https://* ]] || fail "not an HTTPS store: $tls_url"
# serve_tls DATA [ENV=VALUE...] -- [serve flags...]: `berth serve` on the HTTPS store; sets rc.
serve_tls() {
  local data=$1 envs=()
  shift
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  rc=0
  env -u AWS_CA_BUNDLE "${envs[@]}" "$BERTH" serve --listen "127.0.0.1:$tls_port" --data "$data" \
    --storage "$tls_url" "$@" >"$TMP/tls.out" 2>"$TMP/tls.err" &
  tls_pid=$!
}
# refused_tls TEXT: the server refused to start; its one line of error is in $TMP/tls.err
refused_tls() {
  wait "$tls_pid" || rc=$?
  ((rc != 0)) || fail "berth serve started on $tls_url: $(cat "$TMP/tls.err")"
  [[ $(grep -vc '^{' "$TMP/tls.err") == 1 ]] || fail "berth serve: want one line, got: $(cat "$TMP/tls.err")"
  grep -v '^{' "$TMP/tls.err" | grep -q "$1" || fail "berth serve: want '$1', got: $(cat "$TMP/tls.err")"
}
# wait_tls: the server answers; stop_tls stops it (SIGTERM, exit 0)
wait_tls() {
  local deadline=$((SECONDS + 20))
  until curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$tls_port/v2/"; do
    kill -0 "$tls_pid" 2>/dev/null || fail "berth serve on the HTTPS store exited: $(cat "$TMP/tls.err")"
    ((SECONDS < deadline)) || fail "berth serve on the HTTPS store did not answer"
    sleep 0.1
  done
}
stop_tls() {
  kill -TERM "$tls_pid"
  wait "$tls_pid" || fail "berth serve on the HTTPS store exited with $? after SIGTERM"
}
tls_port=$(free_port)
tls_pid=""
AT_EXIT=('[[ -z "$tls_pid" ]] || kill -TERM "$tls_pid" 2>/dev/null || true' "${AT_EXIT[@]}")
serve_tls "$TMP/tls0" --
refused_tls 'certificate'
echo '{"storage_ca_file": "/nonexistent/ca.pem"}' >"$TMP/tls-missing.json"
serve_tls "$TMP/tls0" -- --config "$TMP/tls-missing.json"
refused_tls 'CA file /nonexistent/ca.pem: No such file or directory'

log "trusted through storage_ca_file: a monolithic upload over HTTPS, read back"
printf '{"storage_ca_file": "%s"}' "$TMP/s3tls/ca.pem" >"$TMP/tls.json"
mkdir -p "$TMP/tls1"
admin_login_setup "$TMP/tls1"
serve_tls "$TMP/tls1" -- --config "$TMP/tls.json"
wait_tls
head -c 300000 /dev/urandom >"$TMP/tls-blob"
blob=$(file_digest "$TMP/tls-blob")
status=$(curl -sS -u "$REG_USER:$REG_PASS" -o /dev/null -w '%{http_code}' --data-binary "@$TMP/tls-blob" \
  -H 'Content-Type: application/octet-stream' "http://127.0.0.1:$tls_port/v2/tls/app/blobs/uploads/?digest=$blob")
assert_eq "$status" 201 "monolithic upload into the HTTPS store"
stop_tls

log "trusted through AWS_CA_BUNDLE: the blob is there"
serve_tls "$TMP/tls1" "AWS_CA_BUNDLE=$TMP/s3tls/ca.pem" --
wait_tls
curl -sS -u "$REG_USER:$REG_PASS" -o "$TMP/tls-back" "http://127.0.0.1:$tls_port/v2/tls/app/blobs/$blob"
assert_eq "$(file_digest "$TMP/tls-back")" "$blob" "the blob read back from the HTTPS store"
stop_tls
