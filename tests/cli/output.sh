#!/usr/bin/env bash
# --output json|table|tsv and --query, on objects, arrays, wrappers and scalars.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"
serve_start
configure_client
cli registry create -n outreg1 --sku Premium >/dev/null
cli registry create -n outreg2 >/dev/null

log "json: pretty-printed with two spaces, the API's object unchanged"
out=$(cli registry show -n outreg1)
assert_eq "$(head -n 1 <<<"$out")" "{" "first line of json output"
assert_eq "$(sed -n 2p <<<"$out")" '  "name": "outreg1",' "second line of json output"
grep -q '^    "name": "Premium",$' <<<"$out" || fail "nested objects are indented by four: $out"
assert_eq "$(jq -c . <<<"$out")" "$(jq -c . <<<"$(cli registry show -n outreg1 -o json)")" "-o json is the default"

log "--query: fields, nested fields, indexes, projections"
assert_eq "$(cli registry show -n outreg1 --query loginServer)" "\"outreg1.$DOMAIN\"" "--query scalar in json"
assert_eq "$(cli registry show -n outreg1 --query loginServer -o tsv)" "outreg1.$DOMAIN" "--query scalar in tsv"
assert_eq "$(cli registry show -n outreg1 --query sku.name -o tsv)" Premium "--query nested"
assert_eq "$(cli registry show -n outreg1 --query quota -o json | jq -c .)" '{"storageBytes":536870912000}' \
  "--query object"
assert_eq "$(cli registry list --query '[].name' -o tsv | sort | paste -sd,)" "default,outreg1,outreg2" \
  "--query [].name"
assert_eq "$(cli registry list --query '[].name' | jq -c 'sort')" '["default","outreg1","outreg2"]' \
  "--query [].name as json"
assert_eq "$(cli credential show -n outreg1 --query 'passwords[].name' -o tsv | paste -sd,)" \
  "password,password2" "--query passwords[].name"
assert_eq "$(cli credential show -n outreg1 --query passwords.1.name -o tsv)" password2 \
  "--query passwords.1.name"
assert_eq "$(cli credential show -n outreg1 --query 'passwords[1].name' -o tsv)" password2 \
  "--query passwords[1].name"
assert_eq "$(cli credential show -n outreg1 --query passwords.0.value)" null "--query null value"
pw=$(cli credential renew -n outreg1 --password-name password --query passwords.0.value -o tsv)
[[ "$pw" =~ ^[A-Za-z0-9+/=_-]{16,}$ ]] || fail "--query passwords.0.value -o tsv gave '$pw'"
cli_fails '^berth: --query "nosuchfield" selects nothing in the result$' \
  registry show -n outreg1 --query nosuchfield
cli_fails '^berth: --query "passwords.7.name" selects nothing in the result$' \
  credential show -n outreg1 --query passwords.7.name
cli_fails '^berth: --query "a..b": empty segment$' registry show -n outreg1 --query a..b
cli_fails '^berth: --query "a\[x\]": \[x\] is neither \[\] nor an index$' registry show -n outreg1 --query 'a[x]'
cli_fails '^berth: --query "sku\.": ends with' registry show -n outreg1 --query 'sku.'

log "table: header, rule, one row per object; nested objects flattened as a.b"
out=$(cli registry list -o table)
header=$(head -n 1 <<<"$out")
for column in Name LoginServer Sku.Name Sku.Tier AdminUserEnabled Quota.StorageBytes; do
  [[ " $header " == *" $column "* ]] || fail "table header lacks $column: $header"
done
[[ "$(sed -n 2p <<<"$out")" =~ ^-+(\ \ -+)+$ ]] || fail "second table line is not a rule: $(sed -n 2p <<<"$out")"
assert_eq "$(($(wc -l <<<"$out") - 2))" 3 "table rows"
grep -Eq '^outreg1 +outreg1\.test\.berth +Premium +Premium ' <<<"$out" || fail "outreg1 row: $out"
out=$(cli registry show -n outreg2 -o table)
assert_eq "$(wc -l <<<"$out")" 3 "one object: header, rule, one row"
out=$(cli registry show-usage -n outreg1 -o table)
assert_eq "$(head -n 1 <<<"$out" | tr -s ' ')" "Name Limit CurrentValue Unit" "show-usage table (its value list)"
grep -Eq '^Size +536870912000 +0 +Bytes$' <<<"$out" || fail "show-usage Size row: $out"
out=$(cli registry check-name -n outreg1 -o table)
grep -Eq '^false +AlreadyExists ' <<<"$(sed -n 3p <<<"$out")" || fail "check-name table: $out"
out=$(cli registry list --query '[].name' -o table)
assert_eq "$(head -n 2 <<<"$out" | paste -sd,)" "Result,-------" "table of strings"

log "tsv: the table's rows, tab-separated, no header"
out=$(cli registry list -o tsv)
assert_eq "$(wc -l <<<"$out")" 3 "tsv rows"
table_columns=$(cli registry list -o table | head -n 1 | wc -w)
while IFS= read -r line; do
  assert_eq "$(awk -F'\t' '{print NF}' <<<"$line")" "$table_columns" "tsv fields per row"
done <<<"$out"
row=$(grep "^outreg1	" <<<"$out")
assert_eq "$(cut -f2 <<<"$row")" "outreg1.$DOMAIN" "tsv loginServer field"
assert_eq "$(cli registry show -n outreg2 --query adminUserEnabled -o tsv)" false "tsv boolean"
assert_eq "$(cli registry show -n outreg2 --query quota.storageBytes -o tsv)" 10737418240 "tsv number"
out=$(cli credential show -n outreg2 -o tsv)
assert_eq "$out" "outreg2" "tsv of an object whose other field is a list of objects"

log "an empty list prints [] as json and nothing as table or tsv"
assert_eq "$(cli token list -r outreg2)" "[]" "empty json list"
assert_eq "$(cli token list -r outreg2 -o table)" "" "empty table"
assert_eq "$(cli token list -r outreg2 -o tsv)" "" "empty tsv"

log "bad --output: nothing is sent"
cli_fails '^berth: --output must be json, table or tsv, not "yaml"$' registry create -n yamlreg1 -o yaml
jq_is "$(cli registry check-name -n yamlreg1)" .nameAvailable true "nothing created with -o yaml"
