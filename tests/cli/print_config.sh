#!/usr/bin/env bash
# berth serve --print-config: the settings in effect (defaults, then the file, then flags), one
# JSON object with every key of the configuration reference; bad files and values fail with one
# line naming the key. No server needed.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"

defaults=$("$BERTH" serve --print-config)
jq -e . <<<"$defaults" >/dev/null || fail "--print-config is not JSON: $defaults"
jq_is "$defaults" .listen 127.0.0.1:5000 "default listen"
jq_is "$defaults" .metrics true "metrics on by default"
jq_is "$defaults" .gc_interval_seconds 60 "default gc interval"
# Every key of the reference is printed, and nothing else.
reference_keys=$("$BERTH" serve --config-reference | sed -n 's/^| `\([a-z_]*\)` | .*/\1/p' | sort)
printed_keys=$(jq -r 'keys[]' <<<"$defaults" | sort)
assert_eq "$printed_keys" "$reference_keys" "keys printed against keys in the reference"

cat >"$TMP/config.json" <<'JSON'
{"listen": "0.0.0.0:7000", "data": "/srv/berth", "metrics_listen": "127.0.0.1:9464",
 "gc_grace_seconds": 7200, "metrics_registry_label": true}
JSON
effective=$("$BERTH" serve --config "$TMP/config.json" --listen 127.0.0.1:7001 --print-config)
jq_is "$effective" .listen 127.0.0.1:7001 "a flag wins over the file"
jq_is "$effective" .data /srv/berth "the file wins over the default"
jq_is "$effective" .metrics_listen 127.0.0.1:9464 "metrics_listen from the file"
jq_is "$effective" .gc_grace_seconds 7200 "gc_grace_seconds from the file"
jq_is "$effective" .metrics_registry_label true "a boolean from the file"
[[ ! -e "$TMP/data" ]] || fail "--print-config created a data directory"

echo '{"gc_grace_secs": 1}' >"$TMP/typo.json"
if out=$("$BERTH" serve --config "$TMP/typo.json" --print-config 2>&1); then fail "a typo was accepted"; fi
[[ "$(wc -l <<<"$out")" == 1 && "$out" == *'unknown key "gc_grace_secs"'* ]] || fail "typo error: $out"
echo '{"metrics": "yes"}' >"$TMP/bad.json"
if out=$("$BERTH" serve --config "$TMP/bad.json" --print-config 2>&1); then fail "a string was accepted as a boolean"; fi
[[ "$out" == *'bad value for "metrics" (expected boolean)'* ]] || fail "bad value error: $out"
