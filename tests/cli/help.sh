#!/usr/bin/env bash
# Help: `berth --help` lists the client commands, and every client command and group has help
# with a description; every command takes --output and --query. No server needed.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"

# The version and the commit it was built from ("unknown" only outside a git checkout).
version=$("$BERTH" --version)
[[ "$version" =~ ^berth\ [0-9]+\.[0-9]+\.[0-9]+\ \(commit\ ([0-9a-f]{12}|unknown)\)$ ]] ||
  fail "berth --version: $version"
if git -C "$(dirname "$0")" rev-parse HEAD >/dev/null 2>&1; then
  [[ "$version" != *unknown* ]] || fail "built from a git checkout, but --version names no commit"
fi

out=$("$BERTH" --help)
for cmd in configure registry credential login repository manifest token scope-map check-health \
  purge config; do
  grep -Eq "^  $cmd +[A-Z]" <<<"$out" || fail "berth --help does not list '$cmd' with a description"
done
grep -q '^Client commands' <<<"$out" || fail "berth --help has no 'Client commands' section"

leaves=(
  "configure" "login" "check-health"
  "registry create" "registry list" "registry show" "registry update" "registry delete"
  "registry check-name" "registry show-usage"
  "credential show" "credential renew"
  "repository list" "repository show" "repository show-tags" "repository show-manifests"
  "repository update" "repository delete" "repository untag"
  "manifest show" "manifest list-referrers" "manifest list-metadata" "manifest update-metadata"
  "manifest delete"
  "token create" "token list" "token show" "token update" "token delete"
  "token credential generate" "token credential delete"
  "scope-map create" "scope-map list" "scope-map show" "scope-map update" "scope-map delete"
  "registry show-gc" "repository tag-history" "repository tag-rollback" "repository list-deleted"
  "manifest list-deleted" "manifest restore"
  "purge" "purge schedule create" "purge schedule list" "purge schedule delete"
  "config retention update" "config retention show" "config soft-delete update"
  "config soft-delete show")
for leaf in "${leaves[@]}"; do
  # shellcheck disable=SC2086
  help=$("$BERTH" $leaf --help) || fail "berth $leaf --help failed"
  first=$(head -n 1 <<<"$help")
  [[ "$first" =~ ^[A-Z][^.]+$ ]] || fail "berth $leaf --help: first line is not a one-line description: $first"
  grep -q -- '-o,--output' <<<"$help" || fail "berth $leaf --help lacks -o,--output"
  grep -q -- '--query' <<<"$help" || fail "berth $leaf --help lacks --query"
done
for group in registry credential repository manifest token "token credential" scope-map \
  "purge schedule" config "config retention" "config soft-delete"; do
  # shellcheck disable=SC2086
  help=$("$BERTH" $group --help) || fail "berth $group --help failed"
  grep -q '^Subcommands:' <<<"$help" || fail "berth $group --help lists no subcommands"
  rc=0
  # shellcheck disable=SC2086
  "$BERTH" $group >/dev/null 2>&1 || rc=$?
  ((rc != 0)) || fail "berth $group without a subcommand exits 0"
done
"$BERTH" registry create --help | grep -q '^Examples:' || fail "registry create --help has no examples"
"$BERTH" purge --help | grep -q '^Examples:' || fail "purge --help has no examples"
"$BERTH" scope-map create --help | grep -q 'content/read (pull)' || fail "scope-map create --help lists no actions"
