#!/usr/bin/env bash
# The container image: tools/image builds it from the binary; skopeo pushes the OCI archive into
# a berth started from the same binary and pulls it back with the same manifest digest; the
# pulled config runs /usr/bin/berth serve as uid 65532 on port 5000 with a HEALTHCHECK; the image
# holds the binary and exactly its shared libraries, so that, unpacked with umoci, its own berth
# runs in a chroot (--version, then `serve` as its user and the HEALTHCHECK command against it).
# Usage: image.sh [/path/to/berth]   (default build/berth; root; needs buildah, skopeo, umoci)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
source "$here/../e2e/lib.sh"
TEST_NAME=package.image

if [[ $(id -u) != 0 ]]; then echo "SKIP [$TEST_NAME]: builds with buildah and runs chroot: run as root"; exit 77; fi
for tool in buildah skopeo umoci jq curl readelf; do
  command -v "$tool" >/dev/null || fail "$tool is missing (tools/install-deps installs it)"
done
bin=$(realpath "${1:-${BERTH_BIN:-$root/build/berth}}")
unset E2E_REGISTRY # the test starts its own berth, from the binary the image is made of
e2e_start "$bin"
version=$("$bin" --version | awk '{print $2}')
ref=berth/berth:$version

log "tools/image $bin"
bash "$root/tools/image" "$bin" "$TMP/berth.oci.tar" >"$TMP/image.out" 2>"$TMP/image.err" ||
  { cat "$TMP/image.out" "$TMP/image.err" >&2; fail "tools/image failed"; }
assert_eq "$(head -n 1 "$TMP/image.out")" "$TMP/berth.oci.tar" "path tools/image printed"
cat "$TMP/image.err" >&2
mkdir "$TMP/archive"
tar -xf "$TMP/berth.oci.tar" -C "$TMP/archive"
digest=$(jq -er '.manifests | if length == 1 then .[0].digest else error("not one manifest") end' \
  "$TMP/archive/index.json")
assert_eq "$(jq -r .mediaType "$(layout_blob "$TMP/archive" "$digest")")" \
  application/vnd.docker.distribution.manifest.v2+json "media type of the archive's manifest"

log "skopeo push oci-archive -> $REG/$ref"
skopeo_cmd copy --quiet --dest-tls-verify=false --dest-creds "$REG_USER:$REG_PASS" \
  --digestfile "$TMP/push.digest" "oci-archive:$TMP/berth.oci.tar" "docker://$REG/$ref"
assert_eq "$(cat "$TMP/push.digest")" "$digest" "digest skopeo pushed"
assert_eq "$(remote_digest "$ref")" "$digest" "digest read back"

log "skopeo pull $REG/$ref"
skopeo_cmd copy --quiet --src-tls-verify=false --preserve-digests "docker://$REG/$ref" "oci:$TMP/back:$version"
assert_eq "$(layout_digest "$TMP/back" "$version")" "$digest" "digest of the image pulled back"
for b in $(manifest_blobs "$(layout_manifest "$TMP/back" "$version")"); do
  assert_eq "$(file_digest "$(layout_blob "$TMP/back" "$b")")" "$b" "content of blob $b pulled back"
done
config=$(layout_config "$TMP/back" "$version")
assert_eq "$(jq -r .config.User "$config")" "65532:65532" "User of the image"
assert_eq "$(jq -c .config.Entrypoint "$config")" '["/usr/bin/berth"]' "Entrypoint of the image"
assert_eq "$(jq -c .config.Cmd "$config")" '["serve","--listen","0.0.0.0:5000","--data","/var/lib/berth"]' \
  "Cmd of the image"
assert_eq "$(jq -c '.config.ExposedPorts | keys' "$config")" '["5000/tcp"]' "ExposedPorts of the image"
assert_eq "$(jq -r '.config.Healthcheck.Test | join(" ")' "$config")" "CMD /usr/bin/berth probe --url http://127.0.0.1:5000/readyz" \
  "HEALTHCHECK of the image"
assert_eq "$(jq -r '.config.Labels["org.opencontainers.image.version"]' "$config")" "$version" \
  "label org.opencontainers.image.version"
assert_eq "$(jq -r '.architecture + "/" + .os' "$config")" "amd64/linux" "platform of the image"

log "umoci unpack (an OCI copy: umoci reads OCI manifests only)"
skopeo_cmd copy --quiet --src-tls-verify=false --format oci "docker://$REG/$ref" "oci:$TMP/oci:$version"
umoci unpack --image "$TMP/oci:$version" "$TMP/bundle" >/dev/null
rootfs=$TMP/bundle/rootfs

# Exactly the libraries ldd finds for the binary, and nothing else that is a shared object.
expected=$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
actual=$(cd "$rootfs" && find . -name '*.so*' \( -type f -o -type l \) | sed 's/^\.//' | sort)
assert_eq "$actual" "$expected" "shared objects in the image"
assert_eq "$(grep '^berth:' "$rootfs/etc/passwd" | cut -d: -f3,4,6)" "65532:65532:/var/lib/berth" \
  "the user berth in the image's /etc/passwd"
assert_eq "$(stat -c '%u:%g %a' "$rootfs/var/lib/berth")" "65532:65532 700" "owner and mode of /var/lib/berth"
[[ -s "$rootfs/etc/ssl/certs/ca-certificates.crt" ]] || fail "no CA certificates in the image"

log "the image's berth in a chroot"
assert_eq "$(chroot "$rootfs" /usr/bin/berth --version)" "$("$bin" --version)" \
  "berth --version in the image's root file system"

# The image's entrypoint and command, as the image's user, on a free loopback port instead of
# 0.0.0.0:5000 (the chroot shares this machine's network); then its HEALTHCHECK command with the
# image's environment and BERTH_SERVER pointing at that port.
port=$(free_port)
mapfile -t entry < <(jq -r '.config.Entrypoint[], .config.Cmd[]' "$config")
for i in "${!entry[@]}"; do [[ "${entry[i]}" != 0.0.0.0:5000 ]] || entry[i]=127.0.0.1:$port; done
mapfile -t image_env < <(jq -r '.config.Env[]' "$config")
user=$(jq -r .config.User "$config")
chroot=$(command -v chroot) # by path: the image's environment has PATH=/usr/bin
env -i "${image_env[@]}" setsid "$chroot" --userspec="$user" "$rootfs" "${entry[@]}" \
  >"$TMP/image-server.out" 2>"$TMP/image-server.log" &
EXTRA_PIDS+=($!)
deadline=$((SECONDS + 15))
until curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; do
  if ((SECONDS >= deadline)) || ! kill -0 "${EXTRA_PIDS[-1]}" 2>/dev/null; then
    tail -n 20 "$TMP/image-server.log" >&2
    fail "the image's berth did not answer /healthz on 127.0.0.1:$port"
  fi
  sleep 0.1
done
assert_eq "$(stat -c %u "/proc/${EXTRA_PIDS[-1]}")" 65532 "uid of the image's berth"
# The HEALTHCHECK names port 5000, where the image listens; here the server is on $port.
mapfile -t health < <(jq -r '.config.Healthcheck.Test[1:][]' "$config" | sed "s/127.0.0.1:5000/127.0.0.1:$port/")
env -i "${image_env[@]}" "$chroot" --userspec="$user" "$rootfs" "${health[@]}" >"$TMP/health.out" 2>&1 ||
  { cat "$TMP/health.out" >&2; fail "the HEALTHCHECK command failed against the image's berth"; }
[[ ! -s "$TMP/health.out" ]] || fail "HEALTHCHECK printed something while healthy: $(cat "$TMP/health.out")"
# And it fails where no berth answers.
nobody=$(free_port)
if env -i "${image_env[@]}" "$chroot" --userspec="$user" "$rootfs" \
  "${health[@]/127.0.0.1:$port/127.0.0.1:$nobody}" >"$TMP/health.out" 2>&1; then
  fail "the HEALTHCHECK command succeeded with no server"
fi
