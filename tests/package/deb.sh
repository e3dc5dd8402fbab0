#!/usr/bin/env bash
# The Debian package: tools/package builds it from the binary; lintian finds no error in it;
# systemd-analyze verify finds nothing wrong with its unit; apt-get installs it with its
# dependencies from the machine; the user berth, /var/lib/berth (berth:berth 0700), the conffile
# and the man pages are there; berth runs as the packaged user (under systemd where it runs,
# otherwise the unit's ExecStart as its User=) on a free loopback port, skopeo pushes an image
# and pulls it back unchanged; berth stops on SIGTERM with status 0; apt-get purge removes the
# binary, /etc/berth, /var/lib/berth and the user.
# Usage: deb.sh [/path/to/berth]   (default build/berth; root; needs apt-get, lintian, skopeo,
# umoci, jq, curl; skips with 77 when not root or when berth is installed already)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
source "$here/../e2e/lib.sh"
TEST_NAME=package.deb

BERTH=$(realpath "${1:-${BERTH_BIN:-$root/build/berth}}")
UNIT=/lib/systemd/system/berth.service
CONF=/etc/berth/config.json
STATE=/var/lib/berth
SYSTEMD=0
[[ -d /run/systemd/system ]] && SYSTEMD=1

skip() { echo "SKIP [$TEST_NAME]: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "installs a package: run as root"
command -v apt-get >/dev/null || skip "no apt-get: not a Debian system"
if dpkg-query -W -f='${db:Status-Abbrev}' berth 2>/dev/null | grep -q '^.[^n]'; then
  skip "the package berth is installed on this machine already; the test installs and purges it"
fi
getent passwd berth >/dev/null && skip "a user berth exists already; the test creates and removes it"
[[ ! -e "$STATE" && ! -e /etc/berth ]] || skip "$STATE or /etc/berth exists already"
for tool in lintian skopeo umoci jq curl systemd-analyze; do
  command -v "$tool" >/dev/null || fail "$tool is missing (tools/install-deps installs it)"
done
[[ -x "$BERTH" ]] || fail "usage: $0 /path/to/berth  (no executable at '$BERTH')"

INSTALLED=0     # the package went in: cleanup purges it
POLICY_RC=""    # the policy-rc.d this test put in place (stops the start at install)
SERVICE_PID=""  # berth started by hand, without systemd
STARTED=0       # berth started under systemd

# stop_berth: SIGTERM (systemctl stop under systemd); berth must exit 0 within 10 s. Says what
# went wrong and returns 1 otherwise (the cleanup calls it too, where `fail` would end it early).
stop_berth() {
  local i status=0 result
  if ((STARTED)); then
    STARTED=0
    systemctl stop berth.service || { echo "FAIL [$TEST_NAME]: systemctl stop berth failed" >&2; return 1; }
    result=$(systemctl show -P Result berth.service)
    [[ "$result" == success ]] || { echo "FAIL [$TEST_NAME]: berth.service stopped with result $result" >&2; return 1; }
  fi
  [[ -n "$SERVICE_PID" ]] || return 0
  kill -TERM "$SERVICE_PID" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$SERVICE_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SERVICE_PID" 2>/dev/null; then
    kill -KILL "$SERVICE_PID"
    wait "$SERVICE_PID" || true
    SERVICE_PID=""
    echo "FAIL [$TEST_NAME]: berth still running 10 s after SIGTERM; killed" >&2
    return 1
  fi
  wait "$SERVICE_PID" || status=$?
  SERVICE_PID=""
  ((status == 0)) || { echo "FAIL [$TEST_NAME]: berth exited with status $status after SIGTERM (want 0)" >&2; return 1; }
}

cleanup() {
  local rc=$?
  set +e
  trap - ERR
  stop_berth || ((rc != 0)) || rc=1
  if ((rc != 0)); then
    if ((SYSTEMD)); then
      journalctl -u berth.service -n 40 --no-pager >&2 2>/dev/null
    elif [[ -s "$TMP/server.log" ]]; then
      echo "--- [$TEST_NAME] last lines of berth's stderr:" >&2
      tail -n 40 "$TMP/server.log" >&2
    fi
  fi
  if ((INSTALLED)); then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq berth >/dev/null 2>&1 ||
      { echo "FAIL [$TEST_NAME]: apt-get purge berth failed in the cleanup" >&2; rc=1; }
  fi
  [[ -z "$POLICY_RC" ]] || rm -f "$POLICY_RC"
  if [[ -n "$TMP" ]]; then
    if [[ "${E2E_KEEP:-}" == 1 ]]; then echo "--- kept $TMP" >&2; else rm -rf "$TMP"; fi
  fi
  if ((rc == 0)); then echo "PASS [$TEST_NAME]"; else echo "FAILED [$TEST_NAME] (exit $rc)" >&2; fi
  exit "$rc"
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/package-deb.XXXXXX")
# apt's sandbox user _apt reads the .deb from here.
chmod 0755 "$TMP"
trap cleanup EXIT
set -o errtrace
trap '_e2e_err "$LINENO" "$BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

log "tools/package $BERTH"
deb=$(bash "$root/tools/package" "$BERTH" "$TMP/out")
[[ -f "$deb" ]] || fail "tools/package printed '$deb', which is no file"
log "package: $(basename "$deb"), $(stat -c %s "$deb") bytes"
version=$("$BERTH" --version | awk '{print $2}')
assert_eq "$(dpkg-deb -f "$deb" Version)" "$version-1" "Version of the package"
dpkg-deb -f "$deb" Depends | grep -q 'libc6 (>=' || fail "Depends names no libc6: $(dpkg-deb -f "$deb" Depends)"

log "lintian"
# lintian warns on stderr when it runs as root; its tags go to stdout.
lintian --fail-on error --display-info "$deb" >"$TMP/lintian.out" 2>"$TMP/lintian.err" || {
  cat "$TMP/lintian.out" "$TMP/lintian.err" >&2
  fail "lintian reports errors"
}
grep -v '^running with root' "$TMP/lintian.err" >&2 || true
sed 's/^/    lintian: /' "$TMP/lintian.out" >&2

log "apt-get install $(basename "$deb")"
if ((SYSTEMD)) && [[ ! -e /usr/sbin/policy-rc.d ]]; then
  # The package starts berth on 127.0.0.1:5000 at install; the test starts it on its own port.
  POLICY_RC=/usr/sbin/policy-rc.d
  printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
  chmod 0755 "$POLICY_RC"
fi
INSTALLED=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" \
  >"$TMP/apt-install.log" 2>&1 || { cat "$TMP/apt-install.log" >&2; fail "apt-get install failed"; }
[[ -z "$POLICY_RC" ]] || { rm -f "$POLICY_RC"; POLICY_RC=""; }
assert_eq "$(dpkg-query -W -f='${Status}' berth)" "install ok installed" "dpkg status of berth"
assert_eq "$(/usr/bin/berth --version)" "$("$BERTH" --version)" "berth --version of the installed binary"
if command -v readelf >/dev/null && readelf -S /usr/bin/berth | grep -q '\.debug_info'; then
  fail "/usr/bin/berth is not stripped"
fi

log "systemd-analyze verify $UNIT"
verify_rc=0
systemd-analyze verify "$UNIT" >"$TMP/verify.out" 2>&1 || verify_rc=$?
if ((verify_rc != 0)) || grep -qi 'berth' "$TMP/verify.out"; then
  cat "$TMP/verify.out" >&2
  fail "systemd-analyze verify: status $verify_rc, or it names berth's unit"
fi
grep -Eq '^ProtectSystem=strict$' "$UNIT" || fail "the unit has no ProtectSystem=strict"
grep -Eq '^NoNewPrivileges=(true|yes)$' "$UNIT" || fail "the unit has no NoNewPrivileges=true"

log "the user, the data directory, the conffile, the man pages"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd berth) || fail "no user berth after install"
((uid < 1000)) || fail "berth's uid $uid is not a system uid"
assert_eq "$(getent group berth | cut -d: -f3)" "$gid" "berth's primary group is the group berth"
assert_eq "$home" "$STATE" "home directory of berth"
[[ "$shell" == */nologin || "$shell" == /bin/false ]] || fail "berth's shell is $shell (want nologin)"
assert_eq "$(stat -c '%U:%G %a' "$STATE")" "berth:berth 700" "owner and mode of $STATE"
dpkg-query -W -f='${Conffiles}\n' berth | grep -q "^ $CONF " || fail "$CONF is not a conffile"
assert_eq "$(jq -r .data "$CONF")" "$STATE" "\"data\" in $CONF"
assert_eq "$(stat -c '%U:%G %a' "$CONF")" "root:root 644" "owner and mode of $CONF"
[[ -L /etc/systemd/system/multi-user.target.wants/berth.service ]] ||
  fail "berth.service is not enabled (no link in multi-user.target.wants)"
dpkg-deb -c "$deb" | awk '{print $6}' >"$TMP/contents"
for page in berth berth-serve berth-admin berth-registry; do
  grep -qx "./usr/share/man/man1/$page.1.gz" "$TMP/contents" || fail "no man page $page.1.gz in the package"
done
# Slim images tell dpkg not to install man pages at all.
if grep -rqs '^path-exclude=*/usr/share/man' /etc/dpkg/dpkg.cfg.d/; then
  log "dpkg here does not install man pages (path-exclude): checked in the package only"
else
  [[ -f /usr/share/man/man1/berth.1.gz ]] || fail "no /usr/share/man/man1/berth.1.gz after install"
  if command -v man >/dev/null; then
    assert_eq "$(man -w berth)" /usr/share/man/man1/berth.1.gz "man -w berth"
    MANWIDTH=80 man -P cat berth 2>/dev/null | grep -q 'berth registry create' ||
      fail "man berth does not describe berth registry create"
  fi
fi
[[ -f /usr/share/doc/berth/copyright && -f /usr/share/doc/berth/changelog.Debian.gz ]] ||
  fail "no copyright or changelog.Debian.gz in /usr/share/doc/berth"

PORT=$(free_port)
REG=127.0.0.1:$PORT
log "berth on $REG (listen rewritten in $CONF)"
jq --arg l "$REG" '.listen = $l' "$CONF" >"$TMP/config.json"
cat "$TMP/config.json" >"$CONF"

# The unit's own user and command line.
user=$(sed -n 's/^User=//p' "$UNIT")
group=$(sed -n 's/^Group=//p' "$UNIT")
read -ra exec_start < <(sed -n 's/^ExecStart=//p' "$UNIT")
assert_eq "$user:$group" "berth:berth" "User= and Group= of the unit"
assert_eq "${exec_start[*]}" "/usr/bin/berth serve --config $CONF" "ExecStart= of the unit"

# The admin account, made on the data directory as the service's user.
runuser -u "$user" -- /usr/bin/berth admin update --data "$STATE" --admin-enabled true \
  >/dev/null 2>>"$TMP/admin.log" || { cat "$TMP/admin.log" >&2; fail "berth admin update failed"; }
REG_PASS=$(runuser -u "$user" -- /usr/bin/berth admin credential renew --data "$STATE" \
  --password-name password 2>>"$TMP/admin.log" |
  jq -er '.passwords[] | select(.name == "password") | .value') ||
  { cat "$TMP/admin.log" >&2; fail "berth admin credential renew failed"; }
REG_USER=default

if ((SYSTEMD)); then
  systemctl daemon-reload
  STARTED=1
  systemctl restart berth.service # (started already where a policy-rc.d let the install start it)
  pid=$(systemctl show -P MainPID berth.service)
else
  nofile=$(sed -n 's/^LimitNOFILE=//p' "$UNIT")
  hard=$(ulimit -Hn)
  [[ "$hard" == unlimited ]] || ((hard >= nofile)) || nofile=$hard
  # What the unit's [Service] section sets that a hand start can: the user and group, the
  # descriptor limit, the umask, a working directory of /.
  (
    cd /
    # (up to the hard limit this shell has: raising it takes CAP_SYS_RESOURCE)
    ulimit -n "$nofile"
    umask "$(sed -n 's/^UMask=//p' "$UNIT")"
    exec setpriv --reuid "$user" --regid "$group" --init-groups -- "${exec_start[@]}"
  ) >"$TMP/server.out" 2>"$TMP/server.log" &
  SERVICE_PID=$!
  pid=$SERVICE_PID
fi
deadline=$((SECONDS + 15))
until curl -fsS --max-time 2 -o /dev/null "http://$REG/healthz" 2>/dev/null; do
  ((SECONDS < deadline)) || fail "berth did not answer GET http://$REG/healthz within 15 s"
  if ((SYSTEMD)); then
    systemctl is-active --quiet berth.service || fail "berth.service is not active"
  else
    kill -0 "$SERVICE_PID" 2>/dev/null || fail "berth exited before answering /healthz"
  fi
  sleep 0.1
done
assert_eq "$(stat -c %U "/proc/$pid")" berth "user of the berth process"
((SYSTEMD)) || log "descriptor limit $nofile (the unit's LimitNOFILE, or the hard limit here)"
nofile=${nofile:-65536}
(($(awk '/^Max open files/ {print $4}' "/proc/$pid/limits") >= nofile)) ||
  fail "berth's descriptor limit is below $nofile (LimitNOFILE)"

log "skopeo push and pull"
_setup_clients
skopeo_cmd login --tls-verify=false -u "$REG_USER" --password-stdin "$REG" <<<"$REG_PASS" >/dev/null
make_image "$TMP/src" v1 2
skopeo_cmd copy --quiet --dest-tls-verify=false --digestfile "$TMP/push.digest" \
  "oci:$TMP/src:v1" "docker://$REG/package/deb:v1"
assert_eq "$(cat "$TMP/push.digest")" "$(layout_digest "$TMP/src" v1)" "digest skopeo pushed"
assert_eq "$(remote_digest package/deb:v1)" "$(layout_digest "$TMP/src" v1)" "digest read back"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$REG/package/deb:v1" "oci:$TMP/back:v1"
assert_same_image "$TMP/src" v1 "$TMP/back" v1
strays=$(find "$STATE" ! -user berth | head -n 5)
[[ -z "$strays" ]] || fail "files in $STATE not owned by berth: $strays"

log "stop berth"
stop_berth || fail "berth did not stop cleanly"

log "apt-get purge berth"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q berth >"$TMP/apt-purge.log" 2>&1 ||
  { cat "$TMP/apt-purge.log" >&2; fail "apt-get purge failed"; }
INSTALLED=0
for path in /usr/bin/berth /etc/berth "$STATE" "$UNIT" /etc/systemd/system/multi-user.target.wants/berth.service; do
  [[ ! -e "$path" && ! -L "$path" ]] || fail "$path is still there after purge"
done
! getent passwd berth >/dev/null || fail "the user berth is still there after purge"
! getent group berth >/dev/null || fail "the group berth is still there after purge"
! dpkg-query -W -f='${db:Status-Abbrev}' berth 2>/dev/null | grep -q '^.[^n]' ||
  fail "dpkg still knows berth after purge: $(dpkg-query -W -f='${Status}' berth)"
