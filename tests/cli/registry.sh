#!/usr/bin/env bash
# berth registry create|list|show|update|delete|check-name|show-usage against the real server.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"
serve_start
configure_client

log "create with every setting"
out=$(cli registry create -n teamreg1 --sku standard --admin-enabled true --quota 2GiB)
jq_is "$out" .name teamreg1 "name"
jq_is "$out" .loginServer "teamreg1.$DOMAIN" "loginServer"
jq_is "$out" '[.sku.name, .sku.tier] | @tsv' "Standard	Standard" "sku (case-insensitive flag)"
jq_is "$out" .adminUserEnabled true "adminUserEnabled"
jq_is "$out" .anonymousPullEnabled false "anonymousPullEnabled"
jq_is "$out" .quota.storageBytes 2147483648 "quota from --quota 2GiB"
jq_is "$out" .provisioningState Succeeded "provisioningState"

log "create with defaults and with a storage path"
out=$(cli registry create -n basicreg1)
jq_is "$out" '[.sku.name, .adminUserEnabled, .anonymousPullEnabled, .quota.storageBytes] | @tsv' \
  "Basic	false	false	10737418240" "defaults"
out=$(cli registry create -n storedreg1 --storage-path "$TMP/store" --anonymous-pull-enabled true)
jq_is "$out" .storagePath "$TMP/store" "storagePath"
jq_is "$out" .anonymousPullEnabled true "anonymousPullEnabled"

log "list and show"
jq_is "$(cli registry list)" '[.[].name] | sort | join(",")' "basicreg1,default,storedreg1,teamreg1" \
  "registry list"
out=$(cli registry show -n teamreg1)
jq_is "$out" '[.name, .sku.name, .quota.storageBytes] | @tsv' "teamreg1	Standard	2147483648" "show"

log "update"
out=$(cli registry update -n basicreg1 --sku Premium --admin-enabled true --anonymous-pull-enabled true)
jq_is "$out" '[.sku.name, .adminUserEnabled, .anonymousPullEnabled, .quota.storageBytes] | @tsv' \
  "Premium	true	true	536870912000" "update --sku Premium (its quota)"
out=$(cli registry update -n basicreg1 --quota 512MiB --admin-enabled false)
jq_is "$out" '[.quota.storageBytes, .adminUserEnabled] | @tsv' "536870912	false" "update --quota"
jq_is "$(cli registry show -n basicreg1)" .quota.storageBytes 536870912 "show after update"
out=$(cli registry update -n basicreg1 --quota 1234)
jq_is "$out" .quota.storageBytes 1234 "plain bytes"
cli_fails '^berth: nothing to update: give --sku, --admin-enabled, --anonymous-pull-enabled, --audit-pulls-enabled or --quota$' \
  registry update -n basicreg1

log "check-name: available, taken, invalid"
out=$(cli registry check-name -n freename1)
jq_is "$out" '[.nameAvailable, .reason, .message] | @json' '[true,null,null]' "available name"
out=$(cli registry check-name -n teamreg1)
jq_is "$out" '[.nameAvailable, .reason] | @tsv' "false	AlreadyExists" "taken name"
[[ -n "$(jq -r .message <<<"$out")" ]] || fail "taken name: no message"
for bad in Bad_Name abc "$(printf 'a%.0s' {1..51})"; do
  out=$(cli registry check-name -n "$bad")
  jq_is "$out" '[.nameAvailable, .reason] | @tsv' "false	Invalid" "invalid name $bad"
done

log "show-usage"
out=$(cli registry show-usage -n teamreg1)
jq_is "$out" '.value | map(.name) | join(",")' "Size,Repositories,ScopeMaps,Tokens,Webhooks" "usage rows"
jq_is "$out" '.value[] | select(.name == "Size") | [.limit, .currentValue, .unit] | @tsv' \
  "2147483648	0	Bytes" "Size usage"
jq_is "$out" '.value[] | select(.name == "Tokens") | .limit' 500 "Standard token limit"

log "errors: taken name, invalid name, bad values (nothing created)"
cli_fails '\(CONFLICT\)$' registry create -n teamreg1
cli_fails '\(INVALID_ARGUMENT\)$' registry create -n Bad_Name
cli_fails '^berth: --sku must be Basic, Standard or Premium, not "Gold"$' registry create -n goldreg1 --sku Gold
cli_fails '^berth: --admin-enabled must be true or false, not "yes"$' registry create -n goldreg1 --admin-enabled yes
cli_fails '^berth: --quota must be a size in bytes' registry create -n goldreg1 --quota 10XB
cli_fails '^berth: --quota must be a size in bytes' registry update -n teamreg1 --quota -5
jq_is "$(cli registry check-name -n goldreg1)" .nameAvailable true "goldreg1 was not created"

log "delete needs --yes"
cli_fails '^berth: deleting registry "storedreg1" cannot be undone: add --yes to confirm$' \
  registry delete -n storedreg1
cli registry show -n storedreg1 >/dev/null
out=$(cli registry delete -n storedreg1 --yes)
assert_eq "$out" "" "registry delete prints nothing"
cli_fails '\(NOT_FOUND\)$' registry show -n storedreg1
jq_is "$(cli registry check-name -n storedreg1)" .nameAvailable true "deleted name is free again"
cli_fails '\(NOT_FOUND\)$' registry delete -n storedreg1 --yes
cli_fails '\(CONFLICT\)$' registry delete -n default --yes
