#!/usr/bin/env bash
# berth configure: where the config lives, its modes, what overrides it, and the errors
# without it. The operator token never appears in any output (cli/cli_fails check each call).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"
serve_start

log "no configuration: a clear error"
# shellcheck disable=SC2016 # backquotes are part of the message
cli_fails '^berth: no server configured: run `berth configure --server URL` or set BERTH_SERVER$' \
  registry list

log "configure writes \$XDG_CONFIG_HOME/berth/config.json, 0600 in a 0700 directory"
out=$(cli configure --server "$SERVER/" --operator-token-file "$TMP/operator-token")
config=$XDG_CONFIG_HOME/berth/config.json
jq_is "$out" .server "$SERVER" "printed server (trailing / dropped)"
jq_is "$out" .configFile "$config" "printed config file"
assert_eq "$(stat -c %a "$config")" 600 "mode of config.json"
assert_eq "$(stat -c %a "$XDG_CONFIG_HOME/berth")" 700 "mode of the config directory"
jq_is "$(cat "$config")" '[.server, .operatorTokenFile, .caFile] | @tsv' \
  "$SERVER	$TMP/operator-token	" "stored configuration"
! grep -qF -- "$OP_TOKEN" "$config" || fail "config.json holds the operator token itself"
jq_is "$(cli registry list)" '[.[].name] | index("default") != null' true "registry list works"

log "a relative token file is stored as an absolute path; left out, it is kept"
(cd "$TMP" && cli configure --server "$SERVER" --operator-token-file ./operator-token >/dev/null)
jq_is "$(cat "$config")" .operatorTokenFile "$TMP/operator-token" "absolute token file path"
cli configure --server "$SERVER" >/dev/null
jq_is "$(cat "$config")" .operatorTokenFile "$TMP/operator-token" "token file kept"
cli registry show -n default >/dev/null

log "an empty --operator-token-file clears it: a clear error, then BERTH_OPERATOR_TOKEN works"
cli configure --server "$SERVER" --operator-token-file '' >/dev/null
jq_is "$(cat "$config")" .operatorTokenFile null "token file cleared"
# shellcheck disable=SC2016
cli_fails '^berth: not signed in: run `berth login --user NAME`, or give the operator token with `berth configure --operator-token-file FILE` or BERTH_OPERATOR_TOKEN$' \
  registry list
BERTH_OPERATOR_TOKEN=$OP_TOKEN cli registry show -n default >/dev/null
BERTH_OPERATOR_TOKEN=not-the-operator-token cli_fails '\(UNAUTHORIZED\)$' registry list

log "BERTH_SERVER overrides the stored server"
cli configure --server "$SERVER" --operator-token-file "$TMP/operator-token" >/dev/null
down=$(free_port)
BERTH_SERVER="http://127.0.0.1:$down" cli_fails \
  "^berth: cannot reach http://127.0.0.1:$down/api/v1/registries: " registry list
BERTH_SERVER=$SERVER cli registry list >/dev/null

log "without XDG_CONFIG_HOME: ~/.config/berth/config.json"
(
  unset XDG_CONFIG_HOME
  cli_fails '^berth: no server configured' registry list
  cli configure --server "$SERVER" --operator-token-file "$TMP/operator-token" >/dev/null
  assert_eq "$(stat -c %a "$HOME/.config/berth/config.json")" 600 "mode of ~/.config/berth/config.json"
  cli registry show -n default >/dev/null
)

log "bad values change nothing"
before=$(cat "$config")
cli_fails '^berth: --server "ftp://example" is not an http:// or https:// URL$' configure --server ftp://example
cli_fails '^berth: --server "not a url" is not an http:// or https:// URL$' configure --server 'not a url'
cli_fails "^berth: cannot read operator token file $TMP/missing: No such file or directory$" \
  configure --server "$SERVER" --operator-token-file "$TMP/missing"
cli_fails "^berth: cannot read CA file $TMP/missing.pem: No such file or directory$" \
  configure --server "$SERVER" --ca-file "$TMP/missing.pem"
assert_eq "$(cat "$config")" "$before" "config.json after failed configure commands"
echo 'not json' >"$config"
cli_fails "^berth: $config is not a JSON object; run berth configure again$" registry list
