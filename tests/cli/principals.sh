#!/usr/bin/env bash
# berth user create|list|show|set-password|delete, sp create-for-rbac|list|show|delete,
# sp credential reset|list|delete, sp federated-credential create|list|delete and
# role assignment create|list|delete; `berth login --user` signs a person (or a service
# principal) in and later commands act by its roles: AcrPush at one registry lists that registry
# only, changes nothing and gets docker credentials that push there; Reader at / sees every
# registry and changes none; an Owner of a registry assigns roles there only. A changed password
# or client secret ends the session; `berth logout` falls back to the operator token, or to
# nothing.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cli_start "$@"
serve_start
configure_client
cli registry create -n prinreg1 >/dev/null
cli registry create -n prinreg2 >/dev/null
ALICE_PW=alice-first-password-1
ALICE_PW2=alice-second-password-2
BOB_PW=bob-reader-password-1
CAROL_PW=carol-owner-password-1
SESSION_FILE=$XDG_CONFIG_HOME/berth/session.json

# The operator in another terminal, while someone is signed in here: its own configuration.
OPERATOR_CONFIG=$TMP/operator-config
XDG_CONFIG_HOME=$OPERATOR_CONFIG configure_client
op() { XDG_CONFIG_HOME=$OPERATOR_CONFIG cli "$@"; }

# sign_in NAME PASSWORD: berth login --user NAME --password-stdin; checks the session it shows.
sign_in() {
  local out
  out=$(cli login --user "$1" --password-stdin <<<"$2")
  jq_is "$out" '[.kind, .identity] | @tsv' "principal	principal:$1" "the session of $1"
  [[ -f "$SESSION_FILE" ]] || fail "login --user $1 stored no session"
  assert_eq "$(stat -c %a "$SESSION_FILE")" 600 "mode of the session file"
  if grep -qF -- "$2" "$SESSION_FILE"; then fail "the session file holds the password of $1"; fi
}

# names JSON: the sorted names of a list of registries or users, comma-separated.
names() { jq -r '[.[].name] | sort | join(",")' <<<"$1"; }

# --- users ------------------------------------------------------------------------------------

log "user create (--password-stdin, and without a password), list, show"
out=$(cli user create --name alice --password-stdin <<<"$ALICE_PW")
jq_is "$out" '[.name, .passwordSet] | @tsv' "alice	true" "user create alice"
if grep -qF -- "$ALICE_PW" <<<"$out"; then fail "user create shows the password"; fi
out=$(cli user create --name bob)
jq_is "$out" '[.name, .passwordSet, .passwordChangedTime == null] | @tsv' "bob	false	true" \
  "user create without a password"
cli user create --name carol --password "$CAROL_PW" >/dev/null
cli user create --name dave >/dev/null
assert_eq "$(names "$(cli user list -o json)")" "alice,bob,carol,dave" "user list"
table=$(cli user list -o table)
grep -q '^Name  *PasswordSet  *PasswordChangedTime  *CreatedTime' <<<"$table" || fail "user list -o table: $table"
out=$(cli user show -n alice)
jq_is "$out" '[.name, .passwordSet, (.passwordChangedTime | test("^[0-9-]+T[0-9:]+Z$"))] | @tsv' \
  "alice	true	true" "user show alice"
jq_is "$out" 'keys | join(",")' "createdTime,name,passwordChangedTime,passwordSet" "fields of a user"
cli_fails "^berth: a user name has 1 to 64 lowercase letters, digits, '.', '_' and '-', and begins with a letter or digit \(INVALID_ARGUMENT\)$" \
  user create --name Alice
cli_fails '^berth: a password has at least 12 characters \(INVALID_ARGUMENT\)$' \
  user create --name eve --password short
cli_fails '^berth: a user or service principal alice exists \(CONFLICT\)$' \
  user create --name alice --password "$ALICE_PW2"
cli_fails '^berth: give --password or --password-stdin, not both$' \
  user create --name eve --password "$ALICE_PW2" --password-stdin <<<"$ALICE_PW2"
cli_fails '^berth: standard input holds no password$' user create --name eve --password-stdin </dev/null
cli_fails '^berth: user nosuchuser not found \(NOT_FOUND\)$' user show -n nosuchuser
cli_fails '^berth: that name is reserved \(CONFLICT\)$' \
  user create --name "$NULL_USER" --password "$ALICE_PW2"

log "user set-password: bob, created without one, gets one"
cli_fails '^berth: give --password or --password-stdin$' user set-password -n bob
cli_fails '^berth: a password has at least 12 characters \(INVALID_ARGUMENT\)$' \
  user set-password -n bob --password-stdin <<<"short"
cli_fails '^berth: user nosuchuser not found \(NOT_FOUND\)$' \
  user set-password -n nosuchuser --password-stdin <<<"$BOB_PW"
SET_PASSWORD_OUT=$(cli user set-password -n bob --password-stdin <<<"$BOB_PW")
jq_is "$(cli user show -n bob)" .passwordSet true "bob's password is set"

# --- service principals -------------------------------------------------------------------------

log "sp create-for-rbac --role AcrPush --scopes: the client secret is shown once"
out=$(cli sp create-for-rbac --name ci-push --role AcrPush --scopes /registries/prinreg1 \
  '/registries/prinreg2/repositories/team/*')
APP_ID=$(jq -r .appId <<<"$out")
SECRET1=$(jq -r .password <<<"$out")
KEY1=$(jq -r .keyId <<<"$out")
[[ "$APP_ID" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] || fail "appId: $APP_ID"
[[ ${#SECRET1} -ge 32 ]] || fail "client secret: '$SECRET1'"
jq_is "$out" '[.displayName, ([.roleAssignments[] | .role + " " + .scope] | join(","))] | @tsv' \
  "ci-push	AcrPush /registries/prinreg1,AcrPush /registries/prinreg2/repositories/team/*" \
  "created service principal"
end=$(jq -r .endTime <<<"$out")
[[ "$end" == "$(date -u -d '+365 days' +%Y-%m-%d)"T* || "$end" == "$(date -u -d '+364 days' +%Y-%m-%d)"T* ]] ||
  fail "the client secret ends $end, want in a year"
out=$(cli sp show --id "$APP_ID")
jq_is "$out" '[.appId, .displayName, (.credentials | map(.keyId) | join(","))] | @tsv' \
  "$APP_ID	ci-push	$KEY1" "sp show"
jq_is "$out" '[.. | objects | select(has("password") or has("value"))] | length' 0 "sp show has no secret"
if grep -qF -- "$SECRET1" <<<"$out"; then fail "sp show shows the client secret"; fi
jq_is "$(cli sp list -o json)" '[.[].appId] | join(",")' "$APP_ID" "sp list"
table=$(cli sp list -o table)
grep -q "^$APP_ID  *ci-push " <<<"$table" || fail "sp list -o table: $table"
assert_eq "$(reg_status prinreg1 "$APP_ID:$SECRET1" /v2/)" 200 "the client secret on /v2/"
out=$(cli sp create-for-rbac --name no-role)
jq_is "$out" '.roleAssignments | length' 0 "create-for-rbac without a role"
cli sp delete --id "$(jq -r .appId <<<"$out")" --yes >/dev/null
cli_fails '^berth: --role and --scopes go together$' sp create-for-rbac --name bad --role AcrPull
cli_fails '^berth: --role and --scopes go together$' sp create-for-rbac --name bad --scopes /
cli_fails '^berth: unknown role AcrAdmin \(INVALID_ARGUMENT\)$' \
  sp create-for-rbac --name bad --role AcrAdmin --scopes /
cli_fails '^berth: bad scope /registry/prinreg1 \(INVALID_ARGUMENT\)$' \
  sp create-for-rbac --name bad --role AcrPull --scopes /registry/prinreg1
cli_fails '^berth: years must be 1 to 10 \(INVALID_ARGUMENT\)$' sp create-for-rbac --name bad --years 11
cli_fails '^berth: registry nosuchreg1 not found \(NOT_FOUND\)$' \
  sp create-for-rbac --name bad --role AcrPull --scopes /registries/nosuchreg1
assert_eq "$(cli sp list -o json | jq -r '[.[].displayName] | join(",")')" ci-push \
  "no service principal left by the refused creates"
cli_fails '^berth: service principal nosuchapp not found \(NOT_FOUND\)$' sp show --id nosuchapp

log "sp credential reset --append, list, delete; reset (replacing)"
out=$(cli sp credential reset --id "$APP_ID" --append --years 2)
SECRET2=$(jq -r .password <<<"$out")
KEY2=$(jq -r .keyId <<<"$out")
jq_is "$out" .appId "$APP_ID" "credential reset"
[[ "$(jq -r .endTime <<<"$out")" == "$(date -u -d '+730 days' +%Y-%m-%d)"T* ||
  "$(jq -r .endTime <<<"$out")" == "$(date -u -d '+729 days' +%Y-%m-%d)"T* ]] ||
  fail "--years 2: the secret ends $(jq -r .endTime <<<"$out")"
jq_is "$(cli sp credential list --id "$APP_ID" -o json)" '[.[].keyId] | sort | join(",")' \
  "$(printf '%s\n' "$KEY1" "$KEY2" | sort | paste -sd,)" "credential list after --append"
assert_eq "$(reg_status prinreg1 "$APP_ID:$SECRET1" /v2/)" 200 "the first secret after --append"
assert_eq "$(reg_status prinreg1 "$APP_ID:$SECRET2" /v2/)" 200 "the appended secret"
assert_eq "$(cli sp credential delete --id "$APP_ID" --key-id "$KEY1")" "" "credential delete prints nothing"
jq_is "$(cli sp credential list --id "$APP_ID" -o json)" '[.[].keyId] | join(",")' "$KEY2" \
  "credential list after the delete"
assert_eq "$(reg_status prinreg1 "$APP_ID:$SECRET1" /v2/)" 401 "the deleted secret"
assert_eq "$(reg_status prinreg1 "$APP_ID:$SECRET2" /v2/)" 200 "the other secret"
cli_fails "^berth: no client secret $KEY1 \\(NOT_FOUND\\)$" sp credential delete --id "$APP_ID" --key-id "$KEY1"
out=$(cli sp credential reset --id "$APP_ID")
SECRET3=$(jq -r .password <<<"$out")
KEY3=$(jq -r .keyId <<<"$out")
jq_is "$(cli sp credential list --id "$APP_ID" -o json)" '[.[].keyId] | join(",")' "$KEY3" \
  "credential list after a reset without --append"
assert_eq "$(reg_status prinreg1 "$APP_ID:$SECRET2" /v2/)" 401 "a secret replaced by reset"
assert_eq "$(reg_status prinreg1 "$APP_ID:$SECRET3" /v2/)" 200 "the new secret"

# --- federated credentials ------------------------------------------------------------------------

log "sp federated-credential create, list, delete"
GH=https://token.actions.githubusercontent.com
out=$(cli sp federated-credential create --sp "$APP_ID" -n github-main --issuer "$GH" \
  --subject 'repo:org/app:ref:refs/heads/*')
jq_is "$out" '[.name, .issuer, .subject, (.audiences | join(","))] | @tsv' \
  "github-main	$GH	repo:org/app:ref:refs/heads/*	api://BerthTokenExchange" "federated credential (default audience)"
out=$(cli sp federated-credential create --sp "$APP_ID" -n cluster-1 --issuer https://k8s.example/cluster-1 \
  --subject system:serviceaccount:ci:builder --audience berth-registry)
jq_is "$out" '.audiences | join(",")' berth-registry "federated credential --audience"
jq_is "$(cli sp federated-credential list --sp "$APP_ID" -o json)" '[.[].name] | sort | join(",")' \
  "cluster-1,github-main" "federated-credential list"
table=$(cli sp federated-credential list --sp "$APP_ID" -o table)
grep -q '^Name  *Issuer  *Subject  *Audiences  *CreatedTime' <<<"$table" ||
  fail "federated-credential list -o table: $table"
issuer_error="^berth: issuer must be an https \\(with oidc_allow_http, http\\) URL without query or fragment: the tokens' iss \\(INVALID_ARGUMENT\\)$"
cli_fails "$issuer_error" sp federated-credential create --sp "$APP_ID" -n bad-1 --issuer ftp://issuer.example --subject x
cli_fails "$issuer_error" sp federated-credential create --sp "$APP_ID" -n bad-1 --issuer issuer.example --subject x
cli_fails "$issuer_error" sp federated-credential create --sp "$APP_ID" -n bad-1 \
  --issuer 'https://issuer.example/?tenant=1' --subject x
cli_fails "$issuer_error" sp federated-credential create --sp "$APP_ID" -n bad-1 \
  --issuer 'https://issuer.example/#frag' --subject x
subject_error="^berth: subject must be the token's sub, or a prefix of it followed by a final \\* \\(INVALID_ARGUMENT\\)$"
cli_fails "$subject_error" sp federated-credential create --sp "$APP_ID" -n bad-1 --issuer "$GH" \
  --subject 'repo:org/*:ref:refs/heads/main'
cli_fails "$subject_error" sp federated-credential create --sp "$APP_ID" -n bad-1 --issuer "$GH" \
  --subject '**'
cli_fails "^berth: a federated credential's name .* \\(INVALID_ARGUMENT\\)$" \
  sp federated-credential create --sp "$APP_ID" -n 'bad name' --issuer "$GH" --subject x
cli_fails '^berth: federated credential github-main already exists \(CONFLICT\)$' \
  sp federated-credential create --sp "$APP_ID" -n github-main --issuer "$GH" --subject x
cli_fails '^berth: service principal nosuchapp not found \(NOT_FOUND\)$' \
  sp federated-credential create --sp nosuchapp -n x-1 --issuer "$GH" --subject x
assert_eq "$(cli sp federated-credential delete --sp "$APP_ID" -n cluster-1)" "" \
  "federated-credential delete prints nothing"
jq_is "$(cli sp federated-credential list --sp "$APP_ID" -o json)" '[.[].name] | join(",")' github-main \
  "federated-credential list after the delete"
cli_fails '^berth: no federated credential cluster-1 \(NOT_FOUND\)$' \
  sp federated-credential delete --sp "$APP_ID" -n cluster-1

# --- role assignments -------------------------------------------------------------------------

log "role assignment create, list (--assignee, --scope), delete"
out=$(cli role assignment create --assignee alice --role AcrPush --scope /registries/prinreg1)
jq_is "$out" '[.assignee, .role, .scope] | @tsv' "alice	AcrPush	/registries/prinreg1" "assignment of alice"
jq_is "$(cli role assignment list --assignee alice -o json)" '[.[] | .role + " " + .scope] | join(",")' \
  "AcrPush /registries/prinreg1" "role assignment list --assignee alice"
jq_is "$(cli role assignment list --scope /registries/prinreg1 -o json)" \
  '[.[] | .assignee] | sort | join(",")' "$(printf '%s\n' alice "$APP_ID" | sort | paste -sd,)" \
  "role assignment list --scope /registries/prinreg1"
out=$(cli role assignment create --assignee dave --role AcrDelete --scope '/registries/prinreg2/repositories/old/*')
DAVE_ID=$(jq -r .id <<<"$out")
jq_is "$out" .scope '/registries/prinreg2/repositories/old/*' "a repository pattern's scope"
cli_fails '^berth: dave already holds AcrDelete at /registries/prinreg2/repositories/old/\* \(CONFLICT\)$' \
  role assignment create --assignee dave --role AcrDelete --scope '/registries/prinreg2/repositories/old/*'
cli_fails '^berth: unknown role Admin ' role assignment create --assignee dave --role Admin --scope /
cli_fails '^berth: scope /registries is none of /, /registries/NAME, /registries/NAME/repositories/PATTERN \(INVALID_ARGUMENT\)$' \
  role assignment create --assignee dave --role AcrPull --scope /registries
cli_fails '^berth: registry nosuchreg1 not found \(NOT_FOUND\)$' \
  role assignment create --assignee dave --role AcrPull --scope /registries/nosuchreg1
cli_fails '^berth: principal nobody not found \(NOT_FOUND\)$' \
  role assignment create --assignee nobody --role AcrPull --scope /
assert_eq "$(cli role assignment delete --ids "$DAVE_ID")" "" "role assignment delete prints nothing"
jq_is "$(cli role assignment list --assignee dave -o json)" 'length' 0 "dave's assignments after the delete"
cli_fails "^berth: role assignment $DAVE_ID not found \\(NOT_FOUND\\)$" role assignment delete --ids "$DAVE_ID"

# --- alice: AcrPush at prinreg1 ---------------------------------------------------------------

log "login --user alice: a wrong password is refused and stores nothing"
cli_fails '^berth: sign-in failed: invalid username or password \(UNAUTHORIZED\)$' \
  login --user alice --password-stdin <<<"not-alice-password"
cli_fails '^berth: sign-in failed: invalid username or password \(UNAUTHORIZED\)$' \
  login --user nosuchuser --password "$ALICE_PW"
[[ ! -e "$SESSION_FILE" ]] || fail "a refused sign-in stored a session"
cli_fails '^berth: the password is empty: give --password or --password-stdin$' login --user alice </dev/null

log "signed in as alice (AcrPush at /registries/prinreg1), commands act by her roles"
sign_in alice "$ALICE_PW"
assert_eq "$(names "$(cli registry list)")" prinreg1 "registry list as alice"
jq_is "$(cli registry show -n prinreg1)" .name prinreg1 "registry show as alice"
cli_fails '^berth: you have no role in registry prinreg2 \(DENIED\)$' registry show -n prinreg2
cli_fails '^berth: this needs Contributor or Owner at registry prinreg1 \(DENIED\)$' \
  registry update -n prinreg1 --admin-enabled true
cli_fails '^berth: this needs Contributor or Owner at registry prinreg1 \(DENIED\)$' \
  token create -n alice-token -r prinreg1 --scope-map _repositories_pull
cli_fails '^berth: this needs Contributor or Owner at the deployment \("/"\) \(DENIED\)$' \
  registry create -n prinreg3
cli_fails '^berth: this needs Reader, Contributor or Owner at the deployment \("/"\) \(DENIED\)$' user list
cli_fails '^berth: this needs Owner at the deployment \("/"\) \(DENIED\)$' \
  user create --name mallory --password "$ALICE_PW2"
cli_fails '^berth: assigning roles at the deployment needs Owner there or at the deployment \(DENIED\)$' \
  role assignment create --assignee alice --role Owner --scope /
cli_fails '^berth: assigning roles at registry prinreg1 needs Owner there or at the deployment \(DENIED\)$' \
  role assignment create --assignee alice --role Owner --scope /registries/prinreg1
jq_is "$(cli role assignment list -o json)" '[.[] | .assignee + " " + .scope] | join(",")' \
  "alice /registries/prinreg1" "alice sees her own role assignments only"
cli_fails '^berth: you have no role in registry default \(DENIED\)$' registry update -n default --admin-enabled true

log "login -n prinreg1 as alice: docker credentials of hers, and a push through them"
assert_eq "$(cli login -n prinreg1)" "Login Succeeded" "login -n prinreg1 as alice"
auth=$(jq -r --arg h "$(reg_host prinreg1)" '.auths[$h].auth' "$DOCKER_CONFIG/config.json" | base64 -d)
REG_USER=${auth%%:*}
REG_PASS=${auth#*:}
assert_eq "$REG_USER" "$NULL_USER" "the user login stored"
assert_eq "$(jq -r --arg h "$(reg_host prinreg1)" '.auths[$h].auth' "$XDG_RUNTIME_DIR/containers/auth.json" |
  base64 -d)" "$auth" "containers' auth.json"
digest=$(push_image prinreg1 team/app v1)
jq_is "$(cli repository show-tags -n prinreg1 --repository team/app --detail)" '.[0].digest' "$digest" \
  "alice's push, seen as alice"
assert_eq "$(cli repository list -n prinreg1 -o tsv)" team/app "repository list as alice"
cli_fails '^berth: your roles do not grant content/delete on repository team/app \(DENIED\)$' \
  repository delete -n prinreg1 --repository team/app --yes
assert_eq "$(reg_status prinreg2 "$REG_USER:$REG_PASS" /v2/)" 401 "alice's refresh token of prinreg1 on prinreg2"
cli_fails '^berth: you have no role in registry prinreg2 \(DENIED\)$' login -n prinreg2
jq_is "$(cli login -n prinreg1 --expose-token)" '[.loginServer, .username] | @tsv' \
  "$(reg_host prinreg1)	$NULL_USER" "login --expose-token as alice"

log "user set-password (by the operator, elsewhere) ends alice's session"
op user set-password -n alice --password-stdin <<<"$ALICE_PW2" >/dev/null
# shellcheck disable=SC2016 # the message's backquotes
cli_fails '^berth: the password it signed in with was changed, deleted or has expired \(UNAUTHORIZED\); sign in again with `berth login --user alice`, or `berth logout`$' \
  registry list
cli_fails '^berth: sign-in failed: invalid username or password \(UNAUTHORIZED\)$' \
  login --user alice --password "$ALICE_PW"
sign_in alice "$ALICE_PW2"
assert_eq "$(names "$(cli registry list)")" prinreg1 "registry list as alice with her new password"

log "logout: the operator token again"
assert_eq "$(cli logout)" "Signed out" "logout"
[[ ! -e "$SESSION_FILE" ]] || fail "logout left the session file"
assert_eq "$(names "$(cli registry list)")" "default,prinreg1,prinreg2" "registry list after logout"
assert_eq "$(cli logout)" "Not signed in" "logout again"
log "a damaged session file: every command says to log out, and logout clears it"
echo 'not json' >"$SESSION_FILE"
cli_fails 'run berth logout$' registry list
assert_eq "$(cli logout)" "Signed out" "logout of a damaged session"
[[ ! -e "$SESSION_FILE" ]] || fail "logout left the damaged session file"
assert_eq "$(names "$(cli registry list)")" "default,prinreg1,prinreg2" "registry list after that logout"

# --- bob: Reader at / ---------------------------------------------------------------------------

log "bob, Reader at /: sees every registry, changes none"
cli role assignment create --assignee bob --role Reader --scope / >/dev/null
sign_in bob "$BOB_PW"
assert_eq "$(names "$(cli registry list)")" "default,prinreg1,prinreg2" "registry list as bob"
jq_is "$(cli registry show-usage -n prinreg2)" '.value | length > 0' true "registry show-usage as bob"
jq_is "$(cli token list -r prinreg1)" 'length' 0 "token list as bob"
assert_eq "$(cli repository list -n prinreg1 -o tsv)" team/app "repository list as bob"
assert_eq "$(names "$(cli user list -o json)")" "alice,bob,carol,dave" "user list as bob"
cli_fails '^berth: this needs Contributor or Owner at registry prinreg2 \(DENIED\)$' \
  registry update -n prinreg2 --anonymous-pull-enabled true
cli_fails '^berth: this needs Contributor or Owner at registry prinreg1 \(DENIED\)$' \
  credential show -n prinreg1
cli_fails '^berth: this needs Contributor or Owner at the deployment \("/"\) \(DENIED\)$' \
  registry create -n prinreg3
cli_fails '^berth: your roles do not grant content/delete on repository team/app \(DENIED\)$' \
  repository delete -n prinreg1 --repository team/app --yes
cli_fails '^berth: assigning roles at registry prinreg1 needs Owner there or at the deployment \(DENIED\)$' \
  role assignment create --assignee bob --role Contributor --scope /registries/prinreg1
cli_fails '^berth: this needs Owner at the deployment \("/"\) \(DENIED\)$' user delete -n alice --yes
cli logout >/dev/null

# --- carol: Owner of prinreg1 -------------------------------------------------------------------

log "carol, Owner at /registries/prinreg1: assigns roles there, not at prinreg2 or /"
cli role assignment create --assignee carol --role Owner --scope /registries/prinreg1 >/dev/null
sign_in carol "$CAROL_PW"
assert_eq "$(names "$(cli registry list)")" prinreg1 "registry list as carol"
out=$(cli role assignment create --assignee dave --role AcrPull --scope /registries/prinreg1)
jq_is "$out" '[.assignee, .role, .scope] | @tsv' "dave	AcrPull	/registries/prinreg1" "carol assigns at prinreg1"
DAVE_PATTERN=$(cli role assignment create --assignee dave --role AcrPush --scope '/registries/prinreg1/repositories/team/*' |
  jq -r .id)
cli_fails '^berth: assigning roles at registry prinreg2 needs Owner there or at the deployment \(DENIED\)$' \
  role assignment create --assignee dave --role AcrPull --scope /registries/prinreg2
cli_fails '^berth: assigning roles at registry prinreg2 needs Owner there or at the deployment \(DENIED\)$' \
  role assignment create --assignee dave --role AcrPull --scope '/registries/prinreg2/repositories/team/*'
cli_fails '^berth: assigning roles at the deployment needs Owner there or at the deployment \(DENIED\)$' \
  role assignment create --assignee dave --role AcrPull --scope /
cli_fails '^berth: assigning roles at the deployment needs Owner there or at the deployment \(DENIED\)$' \
  role assignment create --assignee carol --role Owner --scope /
out=$(cli role assignment list -o json)
jq_is "$out" '[.[].scope | select(startswith("/registries/prinreg1") | not)] | length' 0 \
  "carol sees the assignments at prinreg1 only"
jq_is "$out" '[.[].assignee] | unique | sort | join(",")' \
  "$(printf '%s\n' "$APP_ID" alice carol dave | sort | paste -sd,)" "assignees carol sees"
BOB_ID=$(op role assignment list --assignee bob -o json | jq -r '.[0].id')
cli_fails '^berth: assigning roles at the deployment needs Owner there or at the deployment \(DENIED\)$' \
  role assignment delete --ids "$BOB_ID"
assert_eq "$(cli role assignment delete --ids "$DAVE_PATTERN")" "" "carol deletes an assignment at prinreg1"
jq_is "$(cli registry update -n prinreg1 --admin-enabled true)" .adminUserEnabled true \
  "carol updates prinreg1"
cli_fails '^berth: you have no role in registry prinreg2 \(DENIED\)$' \
  registry update -n prinreg2 --admin-enabled true
assert_eq "$(names "$(cli user list -o json)")" "alice,bob,carol,dave" "user list as an Owner of a registry"
cli_fails '^berth: this needs Owner at the deployment \("/"\) \(DENIED\)$' \
  sp create-for-rbac --name carols-sp --role AcrPull --scopes /registries/prinreg1
cli logout >/dev/null
jq_is "$(cli role assignment list --assignee dave -o json)" '[.[] | .role + " " + .scope] | join(",")' \
  "AcrPull /registries/prinreg1" "dave's assignments, seen by the operator"

# --- a service principal signs in; without an operator token -----------------------------------

log "a service principal signs in with its appId and secret; a reset ends the session"
sign_in "$APP_ID" "$SECRET3"
assert_eq "$(names "$(cli registry list)")" "prinreg1,prinreg2" "registry list as ci-push"
op sp credential reset --id "$APP_ID" >/dev/null
cli_fails "sign in again with \`berth login --user $APP_ID\`, or \`berth logout\`$" registry list
cli logout >/dev/null

log "without an operator token: a session, then after logout, not signed in"
NO_TOKEN_CONFIG=$TMP/no-token-config
XDG_CONFIG_HOME=$NO_TOKEN_CONFIG cli configure --server "$SERVER" >/dev/null
XDG_CONFIG_HOME=$NO_TOKEN_CONFIG cli login --user bob --password "$BOB_PW" >/dev/null
assert_eq "$(names "$(XDG_CONFIG_HOME=$NO_TOKEN_CONFIG cli registry list)")" "default,prinreg1,prinreg2" \
  "registry list as bob without an operator token"
assert_eq "$(XDG_CONFIG_HOME=$NO_TOKEN_CONFIG cli logout)" "Signed out" "logout"
# shellcheck disable=SC2016 # the message's backquotes
XDG_CONFIG_HOME=$NO_TOKEN_CONFIG cli_fails '^berth: not signed in: run `berth login --user NAME`, or give the operator token with `berth configure --operator-token-file FILE` or BERTH_OPERATOR_TOKEN$' \
  registry list

# --- deletions --------------------------------------------------------------------------------

log "user delete and sp delete: their credentials stop working"
cli_fails '^berth: deleting user "alice" cannot be undone: add --yes to confirm$' user delete -n alice
assert_eq "$(reg_status prinreg1 "$REG_USER:$REG_PASS" /v2/)" 200 "alice's refresh token before the delete"
assert_eq "$(cli user delete -n alice --yes)" "" "user delete prints nothing"
assert_eq "$(reg_status prinreg1 "$REG_USER:$REG_PASS" /v2/)" 401 "alice's refresh token after the delete"
cli_fails '^berth: sign-in failed: invalid username or password \(UNAUTHORIZED\)$' \
  login --user alice --password "$ALICE_PW2"
jq_is "$(cli role assignment list --assignee alice -o json)" length 0 "alice's assignments went with her"
cli_fails "^berth: deleting service principal $APP_ID cannot be undone: add --yes to confirm$" \
  sp delete --id "$APP_ID"
assert_eq "$(cli sp delete --id "$APP_ID" --yes)" "" "sp delete prints nothing"
cli_fails "^berth: service principal $APP_ID not found \\(NOT_FOUND\\)$" sp federated-credential list --sp "$APP_ID"
jq_is "$(cli sp list -o json)" length 0 "sp list after the delete"

# --- defects ------------------------------------------------------------------------------------
# Each of these is checked, and all are reported together.

log "user set-password prints nothing; an http issuer is refused without oidc_allow_http"
defects=()
[[ -z "$SET_PASSWORD_OUT" ]] ||
  defects+=("berth user set-password printed '$SET_PASSWORD_OUT' (the server answers 204: want no output)")
out=$(cli sp create-for-rbac --name issuer-check)
rc=0
out=$(cli sp federated-credential create --sp "$(jq -r .appId <<<"$out")" -n plain-http \
  --issuer http://issuer.example --subject x 2>&1) || rc=$?
if ((rc == 0)); then
  defects+=("sp federated-credential create --issuer http://issuer.example was accepted by a server without oidc_allow_http (want the INVALID_ARGUMENT of other non-https issuers)")
elif ! [[ "$out" =~ $issuer_error ]]; then
  defects+=("an http issuer without oidc_allow_http: $out")
fi
if ((${#defects[@]} > 0)); then
  report=$(printf '; %s' "${defects[@]}")
  fail "${report:2}"
fi
