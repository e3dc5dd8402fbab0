#!/usr/bin/env bash
# deploy/ as an operator takes it: the Kubernetes manifests and the compose file pass
# tools/check-deploy (and a broken copy does not), every berth configuration in them is one
# `berth serve` accepts, HAProxy accepts both its configurations, and systemd-analyze has
# nothing to say about the node's unit.
# Usage: check.sh /path/to/berth
set -euo pipefail
berth=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
deploy=$root/deploy
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL [deploy]: $*" >&2; exit 1; }

echo "--- the manifests and the compose file"
python3 "$root/tools/check-deploy" "$deploy" --configs "$tmp/configs" || fail "tools/check-deploy"
# The check catches what it is for: a probe on a port the container does not have.
mkdir -p "$tmp/broken/kubernetes" "$tmp/broken/compose"
cp "$deploy"/compose/* "$tmp/broken/compose/"
sed 's/port: metrics/port: metric/' "$deploy/kubernetes/berth.yaml" >"$tmp/broken/kubernetes/berth.yaml"
if out=$(python3 "$root/tools/check-deploy" "$tmp/broken"); then fail "a probe on a missing port passed"; fi
grep -q "no port named metric" <<<"$out" || fail "unexpected report: $out"

echo "--- berth's configurations"
for config in "$tmp"/configs/*.json "$deploy/systemd/node.json" "$deploy/compose/node.json"; do
  "$berth" serve --config "$config" --print-config >/dev/null || fail "berth refuses $config"
done

echo "--- HAProxy's configurations"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=registry.example.com \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
cat "$tmp/cert.pem" "$tmp/key.pem" >"$tmp/registry.pem"
sed "s|/etc/haproxy/registry.pem|$tmp/registry.pem|" "$deploy/haproxy/haproxy.cfg" >"$tmp/haproxy.cfg"
haproxy -c -q -f "$tmp/haproxy.cfg" || fail "haproxy -c deploy/haproxy/haproxy.cfg"
# The compose file's names the nodes by service names, which resolve inside compose only.
haproxy -c -q -f "$deploy/compose/haproxy.cfg" || fail "haproxy -c deploy/compose/haproxy.cfg"

echo "--- the node's systemd unit"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (tools/install-deps)"
# Verified with this build's binary in place of /usr/local/bin/berth, and without the
# credentials file the operator writes.
sed -e "s|/usr/local/bin/berth|$(realpath "$berth")|" \
  -e "s|^EnvironmentFile=|EnvironmentFile=-|" "$deploy/systemd/berth-node.service" \
  >"$tmp/berth.service"
out=$(systemd-analyze verify "$tmp/berth.service" 2>&1) || fail "systemd-analyze: $out"
[[ -z "$out" ]] || fail "systemd-analyze: $out"
echo "PASS [deploy]"
