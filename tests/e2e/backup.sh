#!/usr/bin/env bash
# Backup while pushing, restore, pull: skopeo pushes images, and keeps pushing from two clients
# while `berth admin backup` runs on the live data directory; the backup is restored into a new
# directory, a second berth serves it, and every image acknowledged before the backup began
# pulls back byte for byte. Every tag the restored registry lists pulls whole (no manifest
# without its blobs), restored credentials log in, a backup or restore into a directory in
# use is refused with one line, and a backup onto a full file system fails with one line and
# leaves nothing restorable (as root: it mounts a 2 MiB tmpfs).
# Usage: backup.sh /path/to/berth
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
if [[ -n "${E2E_REGISTRY:-}" ]]; then
  echo "SKIP [$TEST_NAME]: backs up the data directory of a berth it starts (E2E_REGISTRY is set)"
  exit 77
fi
e2e_start "$@"

log "images to push: 4 before the backup, 8 during it"
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do make_image "$TMP/src" "v$i" 2; done

push() { # TAG: push src:TAG to e2e/backup/TAG, then record it as acknowledged
  skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:$1" "docker://$REG/e2e/backup/app:$1"
  echo "$1 $(layout_digest "$TMP/src" "$1")" >>"$TMP/acknowledged"
}
: >"$TMP/acknowledged"
for i in 1 2 3 4; do push "v$i"; done

log "two clients push while the backup runs"
pusher() { local i; for i in "$@"; do push "v$i"; done; }
pusher 5 7 9 11 &
p1=$!
pusher 6 8 10 12 &
p2=$!
sleep 0.3
cp "$TMP/acknowledged" "$TMP/before-backup"
"$BERTH" admin backup --data "$DATA" --out "$TMP/backup" >"$TMP/backup.json" ||
  fail "berth admin backup failed: $(cat "$TMP/backup.json")"
wait "$p1" || fail "pusher 1 failed"
wait "$p2" || fail "pusher 2 failed"
log "backup: $(cat "$TMP/backup.json")"
[[ "$(wc -l <"$TMP/before-backup")" -ge 4 ]] || fail "fewer than 4 images acknowledged before the backup"
[[ -s "$TMP/backup/backup.json" ]] || fail "the backup has no backup.json"
[[ "$(stat -c %a "$TMP/backup")" == 700 ]] || fail "the backup directory is readable by others"

log "a backup into a directory in use, a restore from what is not a backup: refused"
if out=$("$BERTH" admin backup --data "$DATA" --out "$TMP/backup" 2>&1); then fail "backup over a backup succeeded"; fi
[[ "$(wc -l <<<"$out")" == 1 && "$out" == *"not empty"* ]] || fail "backup over a backup: $out"
if out=$("$BERTH" admin restore --from "$DATA" --data "$TMP/nowhere" 2>&1); then fail "restore from a data directory succeeded"; fi
[[ "$out" == *"not a complete berth backup"* ]] || fail "restore from a data directory: $out"

log "a backup onto a file system too small for it fails with one line and is not restorable"
if [[ $(id -u) == 0 ]]; then
  mkdir -p "$TMP/small"
  mount -t tmpfs -o size=2m tmpfs "$TMP/small"
  status=0
  out=$("$BERTH" admin backup --data "$DATA" --out "$TMP/small/backup" 2>&1) || status=$?
  if [[ ! -e "$TMP/small/backup/backup.json" ]]; then complete=no; else complete=yes; fi
  umount -l "$TMP/small"
  ((status != 0)) || fail "a backup onto a full file system succeeded: $out"
  [[ "$(wc -l <<<"$out")" == 1 && "$out" == berth:* ]] || fail "full backup target: $out"
  assert_eq "$complete" no "backup.json on a full file system"
  curl -fsS -o /dev/null "${CURL_AUTH[@]}" "http://$REG/v2/" || fail "the server suffered from the failed backup"
else
  log "(skipped: mounting the small file system needs root)"
fi

log "restore into a new directory and serve it"
"$BERTH" admin restore --from "$TMP/backup" --data "$TMP/restored" >"$TMP/restore.json" ||
  fail "berth admin restore failed: $(cat "$TMP/restore.json")"
port=$(free_port)
RESTORED=127.0.0.1:$port
setsid "$BERTH" serve --listen "$RESTORED" --data "$TMP/restored" >"$TMP/restored.out" 2>>"$TMP/server.log" &
EXTRA_PIDS+=($!)
for ((i = 0; i < 100; i++)); do
  curl -fsS -o /dev/null "${CURL_AUTH[@]}" "http://$RESTORED/v2/" 2>/dev/null && break
  sleep 0.1
done
curl -fsS -o /dev/null "${CURL_AUTH[@]}" "http://$RESTORED/v2/" || fail "the restored berth refuses the restored credentials"

log "every image acknowledged before the backup pulls back"
while read -r tag digest; do
  skopeo_cmd copy --quiet --src-tls-verify=false --src-creds "$REG_USER:$REG_PASS" \
    "docker://$RESTORED/e2e/backup/app:$tag" "oci:$TMP/back:$tag"
  assert_eq "$(layout_digest "$TMP/back" "$tag")" "$digest" "digest of $tag from the restored registry"
  assert_same_image "$TMP/src" "$tag" "$TMP/back" "$tag"
done <"$TMP/before-backup"

log "every tag the restored registry lists pulls whole"
tags=$(curl -fsS "${CURL_AUTH[@]}" "http://$RESTORED/v2/e2e/backup/app/tags/list" | jq -r '.tags[]')
count=0
for tag in $tags; do
  skopeo_cmd copy --quiet --src-tls-verify=false --src-creds "$REG_USER:$REG_PASS" \
    "docker://$RESTORED/e2e/backup/app:$tag" "oci:$TMP/all:$tag"
  assert_same_image "$TMP/src" "$tag" "$TMP/all" "$tag"
  count=$((count + 1))
done
log "restored: $count images ($(wc -l <"$TMP/before-backup") acknowledged before the backup, 12 pushed)"
