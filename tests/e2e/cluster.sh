#!/usr/bin/env bash
# Three berth nodes on one PostgreSQL database and one object store, behind HAProxy sending each
# request to the next node in turn (lib.sh, BERTH_TEST_CLUSTER):
#   - buildah pushes an image through HAProxy, and skopeo pulls it back;
#   - a chunked upload whose POST, PATCHes and PUT each go to another node commits with the
#     right digest (parts of the object store's multipart upload written by different nodes);
#   - a tag moved through one node is read at its new digest on the others within a second;
#   - a token disabled, and a password deleted, through one node are refused by the others
#     within a second;
#   - a node killed with SIGKILL while clients push loses no image a client was told was
#     pushed, and the clients' retries succeed on the nodes left.
# Usage: cluster.sh /path/to/berth, with BERTH_TEST_POSTGRES and BERTH_TEST_STORE (lib.sh).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
export BERTH_TEST_CLUSTER=${BERTH_TEST_CLUSTER:-3}
# Parts of 5 MiB, S3's smallest: the chunked upload below spans several.
e2e_start_configured '{"storage_part_size": 5242880}' "$@"
((${#NODE_ADDRS[@]} == 3)) || fail "want 3 nodes, have ${#NODE_ADDRS[@]}"

log "buildah builds an image and pushes it through HAProxy"
buildah_cmd() {
  TMPDIR=$CONTAINERS_DIR/tmp timeout --foreground "$CMD_TIMEOUT" buildah \
    --root "$CONTAINERS_DIR/root" --runroot "$CONTAINERS_DIR/run" --storage-driver vfs "$@"
}
head -c 300000 /dev/urandom >"$TMP/payload.bin"
container=$(buildah_cmd from scratch)
buildah_cmd copy "$container" "$TMP/payload.bin" /payload.bin >/dev/null
buildah_cmd config --cmd /payload.bin "$container"
buildah_cmd commit --quiet "$container" "localhost/cluster/built:1" >/dev/null
buildah_cmd rm "$container" >/dev/null
buildah_cmd push --quiet --tls-verify=false --digestfile "$TMP/built.digest" \
  "localhost/cluster/built:1" "docker://$REG/cluster/built:1"
assert_eq "$(remote_digest cluster/built:1)" "$(cat "$TMP/built.digest")" "buildah's image by tag"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/cluster/built:1" "oci:$TMP/built:1"
assert_eq "$(layout_digest "$TMP/built" 1)" "$(cat "$TMP/built.digest")" "buildah's image pulled"

log "a chunked upload: POST on node 1, PATCHes on nodes 2, 3 and 1, PUT on node 2"
node() { echo "http://${NODE_ADDRS[$1]}"; }
# Chunks of 3, 7 and 4 MiB: the first part of 5 MiB is completed by the second chunk on
# another node; the third leaves a tail that the PUT, on yet another node, sends last.
head -c $((3 << 20)) /dev/urandom >"$TMP/chunk1"
head -c $((7 << 20)) /dev/urandom >"$TMP/chunk2"
head -c $((4 << 20)) /dev/urandom >"$TMP/chunk3"
cat "$TMP/chunk1" "$TMP/chunk2" "$TMP/chunk3" >"$TMP/whole"
digest="sha256:$(sha256sum "$TMP/whole" | cut -d' ' -f1)"
http POST "$(node 0)/v2/cluster/chunked/blobs/uploads/"
expect_status 202 "POST on node 1"
location=$(header Location)
offset=0
for i in 1 2 3; do
  size=$(stat -c %s "$TMP/chunk$i")
  on=$((i % 3))
  http PATCH "$(node "$on")$location" -H "Content-Type: application/octet-stream" \
    -H "Content-Range: $offset-$((offset + size - 1))" --data-binary "@$TMP/chunk$i"
  expect_status 202 "PATCH $i on node $((on + 1))"
  offset=$((offset + size))
  assert_eq "$(header Range)" "0-$((offset - 1))" "Range after PATCH $i"
  location=$(header Location)
done
http GET "$(node 2)$location"
expect_status 204 "upload status on node 3"
assert_eq "$(header Range)" "0-$((offset - 1))" "Range seen by node 3"
sep='?'
[[ "$location" == *\?* ]] && sep='&'
http PUT "$(node 1)$location${sep}digest=$digest"
expect_status 201 "PUT on node 2"
for n in 0 1 2; do
  curl -fsS "${CURL_AUTH[@]}" -o "$TMP/back" "$(node "$n")/v2/cluster/chunked/blobs/$digest"
  cmp -s "$TMP/back" "$TMP/whole" || fail "the blob read from node $((n + 1)) differs"
done

log "a tag moved through node 1 is read at its new digest on nodes 2 and 3"
make_image "$TMP/src" one 1
make_image "$TMP/src" two 1
one=$(layout_digest "$TMP/src" one)
two=$(layout_digest "$TMP/src" two)
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:one" "docker://$REG/cluster/moving:latest"
skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:two" "docker://$REG/cluster/moving:other"
accept='Accept: application/vnd.oci.image.manifest.v1+json'
tag_on() {
  curl -fsS --head "${CURL_AUTH[@]}" -H "$accept" "$(node "$1")/v2/cluster/moving/manifests/latest" |
    tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}'
}
# Read (and cached) on every node first.
for n in 0 1 2; do assert_eq "$(tag_on "$n")" "$one" "latest on node $((n + 1))"; done
curl -fsS "${CURL_AUTH[@]}" -H "$accept" -o "$TMP/two.json" \
  "$(node 0)/v2/cluster/moving/manifests/$two"
curl -fsS "${CURL_AUTH[@]}" -X PUT -H "Content-Type: application/vnd.oci.image.manifest.v1+json" \
  --data-binary "@$TMP/two.json" "$(node 0)/v2/cluster/moving/manifests/latest" -o /dev/null
# within_a_second COMMAND...: until it succeeds, at most a second.
within_a_second() {
  local until=$((${EPOCHREALTIME/./} + 1000000))
  until "$@"; do
    ((${EPOCHREALTIME/./} < until)) || return 1
    sleep 0.02
  done
}
for n in 1 2; do
  within_a_second test "$(tag_on "$n")" == "$two" ||
    fail "node $((n + 1)) still reads latest at $(tag_on "$n") a second after it moved"
done

log "a token disabled, and a password deleted, through node 1: refused by nodes 2 and 3"
BERTH_SERVER=$(node 0)
export BERTH_SERVER
out=$(cli token create -n cluster-bot -r default --scope-map _repositories_pull)
pass1=$(jq -r '.credentials.passwords[0].value' <<<"$out")
pass2=$(jq -r '.credentials.passwords[1].value' <<<"$out")
status_on() {
  curl -s -o /dev/null -w '%{http_code}' -u "cluster-bot:$2" "$(node "$1")/v2/"
}
refused_on() { [[ "$(status_on "$1" "$2")" == 401 ]]; }
for n in 0 1 2; do assert_eq "$(status_on "$n" "$pass1")" 200 "the token on node $((n + 1))"; done
cli token update -n cluster-bot -r default --status disabled >/dev/null
for n in 1 2; do
  within_a_second refused_on "$n" "$pass1" ||
    fail "node $((n + 1)) still accepts the disabled token a second later"
done
cli token update -n cluster-bot -r default --status enabled >/dev/null
for n in 1 2; do
  within_a_second test "$(status_on "$n" "$pass2")" == 200 ||
    fail "node $((n + 1)) refuses the token enabled again"
done
cli token credential delete -n cluster-bot -r default --password2 >/dev/null
for n in 1 2; do
  within_a_second refused_on "$n" "$pass2" ||
    fail "node $((n + 1)) still accepts the deleted password a second later"
done
assert_eq "$(status_on 2 "$pass1")" 200 "the password kept, on node 3"

log "node 2 killed with SIGKILL while four clients push; their retries go to nodes 1 and 3"
for i in 1 2 3 4 5 6 7 8; do make_image "$TMP/load" "img$i" 3; done
push() {
  # skopeo tries failed requests again (--retry-times), and a push that fails all the same is
  # run again, as CI would: an image reported pushed must be there whole, whichever try did it.
  local i=$1 try
  for try in 1 2 3; do
    if skopeo_cmd copy --quiet --retry-times 3 --dest-tls-verify=false \
      "oci:$TMP/load:img$i" "docker://$REG/cluster/load:img$i" 2>>"$TMP/push$i.err"; then
      echo "img$i" >>"$TMP/pushed"
      ((try == 1)) || echo "img$i" >>"$TMP/retried"
      return
    fi
  done
}
: >"$TMP/pushed"
: >"$TMP/retried"
pids=()
for i in 1 2 3 4; do push "$i" & pids+=($!); done
sleep 0.3
kill -KILL "${NODE_PIDS[1]}"
wait "${NODE_PIDS[1]}" 2>/dev/null || true
EXTRA_PIDS=("${NODE_PIDS[2]}")  # the dead node is not stopped at the end
for i in 5 6 7 8; do push "$i" & pids+=($!); done
for pid in "${pids[@]}"; do wait "$pid"; done
log "pushed: $(sort "$TMP/pushed" | tr '\n' ' '), of them pushed again: $(sort "$TMP/retried" | tr '\n' ' ')"
assert_eq "$(wc -l <"$TMP/pushed")" 8 "images pushed ($(cat "$TMP"/push*.err 2>/dev/null | tail -3))"
for i in 1 2 3 4 5 6 7 8; do
  for n in 0 2; do
    http GET "$(node "$n")/v2/cluster/load/manifests/img$i" -H "$accept"
    expect_status 200 "img$i on node $((n + 1))"
  done
  skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/cluster/load:img$i" \
    "oci:$TMP/pulled:img$i"
  assert_same_image "$TMP/load" "img$i" "$TMP/pulled" "img$i"
done
