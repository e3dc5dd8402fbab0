#!/usr/bin/env bash
# Workload identity federation with real clients. A test OpenID Connect issuer made here (RSA
# 2048 keys from openssl, discovery documents and JWKS as static files served by python3 on
# loopback) plays GitHub Actions and a Kubernetes cluster; its ID tokens are minted in bash
# (RS256, signed by `openssl dgst -sign`). A service principal with AcrPush on team/* of one
# registry trusts both through federated credentials: `berth login --identity-token-file`
# exchanges a GitHub token and skopeo pushes with what it stored (team/* only); a Kubernetes
# token exchanged with curl on the login server gives skopeo --dest-creds. Refused, each with
# its OAuth2 error and reason: an expired token, another audience, another subject, an issuer
# nobody trusts (and never fetched), alg none, HS256 keyed with the public key, a tampered
# payload, a key the JWKS does not hold, a registry where the principal has no role. A key
# the issuer rotates in is fetched once; with the issuer gone, cached keys still verify and an
# unknown key is refused at once, saying why; deleting the federated credential ends the trust.
# Besides: skopeo logs in with the service principal's appId and client secret, as on ACR.
# Usage: workload_identity.sh /path/to/berth
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
if [[ -n "${E2E_REGISTRY:-}" ]]; then
  echo "SKIP [$TEST_NAME]: starts berth itself with --domain and an OIDC configuration, and reads its operator token (E2E_REGISTRY is set)"
  exit 77
fi
DOMAIN=berth-e2e.test
# Login servers must carry berth's port (the exchange names them, and the clients' auth files
# are keyed by them), which is known once lib.sh has picked it, just before berth starts.
e2e_data_created() {
  printf '{"oidc_allow_http": true, "oidc_unknown_key_refetch_seconds": 2}\n' >"$TMP/berth.json"
  E2E_SERVE_ARGS=(--domain "$DOMAIN:${REG##*:}" --config "$TMP/berth.json")
}
e2e_start "$@"
PORT=${REG##*:}
# `berth login` talks to the management host; no configuration of the machine is read.
export BERTH_SERVER=http://$REG XDG_CONFIG_HOME=$TMP/xdg
readonly NULL_USER=00000000-0000-0000-0000-000000000000

hex() { od -An -N4 -tx1 /dev/urandom | tr -d ' \n'; }
b64url() { basenc --base64url -w0 | tr -d '='; }

# must_fail WHAT PATTERN CMD...: CMD fails and its output matches PATTERN (case-insensitive ERE).
must_fail() {
  local what=$1 pattern=$2 out
  shift 2
  if out=$("$@" 2>&1); then fail "$what: succeeded, it must not: $out"; fi
  grep -Eqi -- "$pattern" <<<"$out" || fail "$what: failed without /$pattern/: $out"
  log "$what: refused as expected (...$(tr '\n' ' ' <<<"$out" | tail -c 160))"
}

# --- the test issuer --------------------------------------------------------------------------

OIDC=$TMP/oidc   # document root of the issuers' server
KEYS=$TMP/keys   # their private keys
ACCESS_LOG=$TMP/oidc-access.log
mkdir -p "$OIDC" "$KEYS"
touch "$ACCESS_LOG"
ISSUER_PORT=$(free_port)
GHA=http://127.0.0.1:$ISSUER_PORT/gha     # GitHub Actions' shape
K8S=http://127.0.0.1:$ISSUER_PORT/k8s     # a Kubernetes cluster's shape
ROGUE=http://127.0.0.1:$ISSUER_PORT/rogue # served too, but no federated credential trusts it

# new_key KID: an RSA 2048 key in $KEYS/KID.pem; prints its public JWK.
new_key() {
  local key=$KEYS/$1.pem n
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key" 2>/dev/null
  n=$(openssl rsa -in "$key" -noout -modulus | cut -d= -f2 | basenc --base16 -d | b64url)
  jq -cn --arg kid "$1" --arg n "$n" '{kty: "RSA", use: "sig", alg: "RS256", kid: $kid, n: $n, e: "AQAB"}'
}

# publish NAME JWK...: the discovery document and the JWKS of issuer $OIDC/NAME (the JWKS
# replaced whole, so that a fetch never sees half of it).
publish() {
  local dir=$OIDC/$1 iss=http://127.0.0.1:$ISSUER_PORT/$1
  shift
  mkdir -p "$dir/.well-known"
  jq -n --arg iss "$iss" '{issuer: $iss, jwks_uri: ($iss + "/jwks"),
    subject_types_supported: ["public", "pairwise"], response_types_supported: ["id_token"],
    claims_supported: ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository",
      "repository_id", "repository_owner", "run_id", "sha", "workflow", "actor"],
    id_token_signing_alg_values_supported: ["RS256"], scopes_supported: ["openid"]}' \
    >"$dir/.well-known/openid-configuration"
  jq -n '{keys: [$ARGS.positional[] | fromjson]}' --args "$@" >"$dir/jwks.new"
  mv "$dir/jwks.new" "$dir/jwks"
}

log "the test issuers: GitHub-shaped at $GHA, Kubernetes-shaped at $K8S, one nobody trusts at $ROGUE"
GHA_JWK=$(new_key gha-1)
publish gha "$GHA_JWK"
publish k8s "$(new_key k8s-1)"
publish rogue "$(new_key rogue-1)"
new_key gha-unpublished >/dev/null # signs tokens with a key id gha never publishes
new_key gha-2 >"$KEYS/gha-2.jwk"   # published later (a key rotation)
echo ok >"$OIDC/ready"
# The server logs every request (method, path, status) to ACCESS_LOG and exits 0 on SIGTERM,
# as lib.sh's cleanup requires of every process in EXTRA_PIDS.
# shellcheck disable=SC2016 # python, not shell
setsid python3 -c '
import http.server, signal, sys
root, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=root, **kwargs)

    def guess_type(self, path):
        return "application/json"

    def log_request(self, code="-", size="-"):
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{self.command} {self.path} {code}\n")

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
server.serve_forever()
' "$OIDC" "$ISSUER_PORT" "$ACCESS_LOG" 2>"$TMP/oidc.err" &
ISSUER_PID=$!
EXTRA_PIDS+=("$ISSUER_PID")
for ((i = 0; i < 100; i++)); do
  curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$ISSUER_PORT/ready" 2>/dev/null && break
  sleep 0.1
done
curl -fsS --max-time 2 -o /dev/null "$GHA/.well-known/openid-configuration" ||
  fail "the test issuer did not start: $(cat "$TMP/oidc.err")"
: >"$ACCESS_LOG" # from here on, only berth's fetches

# fetches PATH_PREFIX: how many GETs of paths starting with PATH_PREFIX the issuer served.
fetches() { grep -c "^GET $1" "$ACCESS_LOG" || true; }

# jwt KEY_FILE HEADER_JSON CLAIMS_JSON: header.claims.signature, RS256 with the key.
jwt() {
  local head claims
  head=$(printf '%s' "$2" | b64url)
  claims=$(printf '%s' "$3" | b64url)
  printf '%s.%s.%s' "$head" "$claims" \
    "$(printf '%s.%s' "$head" "$claims" | openssl dgst -sha256 -sign "$1" -binary | b64url)"
}
rs256() { jq -cn --arg kid "$1" '{alg: "RS256", typ: "JWT", kid: $kid}'; }

# gha_claims [JQ]: claims of a GitHub Actions ID token of a push to org/app's main branch, valid
# for ten minutes, then changed by the jq filter JQ ($now: the time).
gha_claims() {
  jq -cn --arg iss "$GHA" --argjson now "$(date +%s)" "{
    jti: \"$(cat /proc/sys/kernel/random/uuid)\", sub: \"repo:org/app:ref:refs/heads/main\",
    aud: \"api://BerthTokenExchange\", ref: \"refs/heads/main\", ref_type: \"branch\",
    sha: \"0c5d9bd1e6f7b2d1ab4a9c3f6f1e1a3c9d5e7f20\", repository: \"org/app\",
    repository_id: \"123456789\", repository_owner: \"org\", repository_owner_id: \"4242\",
    repository_visibility: \"private\", run_id: \"9876543210\", run_number: \"17\",
    run_attempt: \"1\", actor: \"octocat\", actor_id: \"583231\", workflow: \"build\",
    workflow_ref: \"org/app/.github/workflows/build.yml@refs/heads/main\",
    job_workflow_ref: \"org/app/.github/workflows/build.yml@refs/heads/main\",
    event_name: \"push\", runner_environment: \"github-hosted\",
    iss: \$iss, nbf: (\$now - 5), iat: (\$now - 5), exp: (\$now + 600)} | ${1:-.}"
}
gha_token() { jwt "$KEYS/gha-1.pem" "$(rs256 gha-1)" "$(gha_claims "${1:-.}")"; }

K8S_AUDIENCE=berth-e2e-registry
# k8s_token [JQ]: a projected service account token of ci/builder, for the API server and for
# berth, valid for ten minutes, its claims changed by JQ.
k8s_token() {
  jwt "$KEYS/k8s-1.pem" "$(rs256 k8s-1)" "$(jq -cn --arg iss "$K8S" --arg aud "$K8S_AUDIENCE" \
    --argjson now "$(date +%s)" "{
      aud: [\"https://kubernetes.default.svc.cluster.local\", \$aud],
      exp: (\$now + 600), iat: \$now, nbf: \$now, iss: \$iss,
      jti: \"$(cat /proc/sys/kernel/random/uuid)\",
      \"kubernetes.io\": {namespace: \"ci\",
        node: {name: \"worker-1\", uid: \"5e0b3a3c-1f0e-4c59-9a57-3f0e7d2b1a10\"},
        pod: {name: \"builder-7d9f8c6b5-x2x9q\", uid: \"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\"},
        serviceaccount: {name: \"builder\", uid: \"8c1d1e9e-8c47-4d7e-9f3a-2b6a0c4e5d71\"}},
      sub: \"system:serviceaccount:ci:builder\"} | ${1:-.}")"
}

# post_exchange HOST CURL_ARGS...: POST /oauth2/exchange with Host HOST and the form CURL_ARGS
# make; sets HTTP_STATUS and EXCHANGE_SECONDS (curl's time_total), the reply in $TMP/http.body.
post_exchange() {
  local host=$1 out
  shift
  out=$(curl -sS --max-time 60 -o "$TMP/http.body" -w '%{http_code} %{time_total}' -H "Host: $host" \
    "$@" "http://$REG/oauth2/exchange") || fail "curl POST /oauth2/exchange failed"
  HTTP_STATUS=${out%% *}
  EXCHANGE_SECONDS=${out#* }
}

# exchange HOST SERVICE TOKEN: the exchange of TOKEN, with service=SERVICE unless empty.
exchange() {
  local service=()
  [[ -z "$2" ]] || service=(--data-urlencode "service=$2")
  post_exchange "$1" --data-urlencode grant_type=access_token "${service[@]}" \
    --data-urlencode "access_token=$3"
}

# exchanged WHAT: the last exchange gave a refresh token for R's login server; prints it.
exchanged() {
  expect_status 200 "$1"
  assert_eq "$(jq -r '[.loginServer, .username] | @tsv' "$TMP/http.body")" "$HOST_R	$NULL_USER" \
    "$1: loginServer and username"
  jq -e '.expires_in | type == "number" and . > 0' "$TMP/http.body" >/dev/null ||
    fail "$1: no positive expires_in: $(body)"
  jq -er '.refresh_token | select(length > 0)' "$TMP/http.body" || fail "$1: no refresh_token: $(body)"
}

# oauth_error WHAT STATUS ERROR WHY: the last exchange answered STATUS with the OAuth2 error
# ERROR, no refresh token, and an error_description that says WHY (a fixed string, any case).
oauth_error() {
  local what=$1 description
  expect_status "$2" "$what"
  assert_eq "$(jq -r .error "$TMP/http.body")" "$3" "$what: error"
  description=$(jq -r .error_description "$TMP/http.body")
  grep -qiF -- "$4" <<<"$description" ||
    fail "$what: error_description does not say \"$4\": $description"
  assert_eq "$(jq -r 'has("refresh_token")' "$TMP/http.body")" false "$what: a refresh token in the refusal"
  log "$what: $2 $3 ($description)"
}

# refused WHAT STATUS ERROR WHY TOKEN [HOST SERVICE]: the exchange of TOKEN on R's login server
# (or on HOST with service=SERVICE) is refused so.
refused() {
  exchange "${6:-$HOST_R}" "${7:-}" "$5"
  oauth_error "$1" "$2" "$3" "$4"
}

# --- the registry and the service principal ---------------------------------------------------

R=wlid$(hex)
R2=norole$(hex)
HOST_R=$R.$DOMAIN:$PORT
HOST_R2=$R2.$DOMAIN:$PORT
log "registries $R and $R2; a service principal with AcrPush on $R's team/* only"
for name in "$R" "$R2"; do
  control_api POST /api/v1/registries "{\"name\":\"$name\"}"
  expect_status 201 "create registry $name"
done
assert_eq "$(jq -r .loginServer "$TMP/http.body")" "$HOST_R2" "login server of $R2"
control_api POST /api/v1/service-principals \
  "{\"name\":\"ci-builder\",\"role\":\"AcrPush\",\"scopes\":[\"/registries/$R/repositories/team/*\"]}"
expect_status 201 "create the service principal"
APP_ID=$(jq -r .appId "$TMP/http.body")
APP_SECRET=$(jq -r .password "$TMP/http.body")
assert_eq "$(jq -r '.roleAssignments[] | [.role, .scope] | @tsv' "$TMP/http.body")" \
  "AcrPush	/registries/$R/repositories/team/*" "role assignment of the service principal"

log "federated credentials: GitHub (every branch of org/app), Kubernetes (ci/builder, audience $K8S_AUDIENCE)"
FC=/api/v1/service-principals/$APP_ID/federated-credentials
control_api POST "$FC" "{\"name\":\"github-branches\",\"issuer\":\"$GHA\",\"subject\":\"repo:org/app:ref:refs/heads/*\"}"
expect_status 201 "create the GitHub federated credential"
assert_eq "$(jq -c .audiences "$TMP/http.body")" '["api://BerthTokenExchange"]' "default audience"
control_api POST "$FC" "{\"name\":\"k8s-builder\",\"issuer\":\"$K8S\",\"subject\":\"system:serviceaccount:ci:builder\",\"audience\":\"$K8S_AUDIENCE\"}"
expect_status 201 "create the Kubernetes federated credential"
control_api GET "$FC"
expect_status 200 "list the federated credentials"
assert_eq "$(jq -r '[.[].name] | sort | join(",")' "$TMP/http.body")" "github-branches,k8s-builder" \
  "federated credentials"
assert_eq "$(fetches /)" 0 "requests to the issuers before any exchange"

# --- GitHub Actions: the exchange, then berth login and skopeo --------------------------------

GHA_TOKEN=$(gha_token)
printf '%s\n' "$GHA_TOKEN" >"$TMP/gha.jwt"

log "exchange on the management host, service=$R (cold: berth fetches discovery and JWKS)"
exchange "$REG" "$R" "$GHA_TOKEN"
exchanged "first exchange" >/dev/null
log "first exchange: ${EXCHANGE_SECONDS}s (discovery document and JWKS fetched)"
assert_eq "$(fetches /gha/.well-known/openid-configuration) $(fetches /gha/jwks)" "1 1" \
  "discovery and JWKS fetches of the first exchange"
exchange "$REG" "$HOST_R" "$GHA_TOKEN"
exchanged "exchange with service=<login server>" >/dev/null
log "second exchange: ${EXCHANGE_SECONDS}s (keys cached)"
exchange "$HOST_R" "" "$GHA_TOKEN"
exchanged "exchange on the login server" >/dev/null
assert_eq "$(fetches /)" 2 "requests to the issuers after three exchanges (keys cached)"
# EXCHANGE_ROUNDS=N (bench/exchange): N more exchanges with the keys cached, timed by curl.
if [[ -n "${EXCHANGE_ROUNDS:-}" ]]; then
  : >"$TMP/exchange.times"
  for ((i = 0; i < EXCHANGE_ROUNDS; i++)); do
    exchange "$HOST_R" "" "$GHA_TOKEN"
    assert_eq "$HTTP_STATUS" 200 "timed exchange $i"
    echo "$EXCHANGE_SECONDS" >>"$TMP/exchange.times"
  done
  sort -g "$TMP/exchange.times" | awk '{ t[NR] = $1 * 1000 } END {
    printf "exchange latency over %d rounds (keys cached): p50 %.1f ms, p90 %.1f ms, p99 %.1f ms\n",
      NR, t[int(NR * 0.5) + 1], t[int(NR * 0.9) + 1], t[int(NR * 0.99) + 1] }' | tee "${EXCHANGE_REPORT:-/dev/null}" >&2
fi
log "a feature branch matches the subject pattern repo:org/app:ref:refs/heads/*"
exchange "$HOST_R" "" "$(gha_token '.sub = "repo:org/app:ref:refs/heads/feature/x" | .ref = "refs/heads/feature/x"')"
exchanged "token of a feature branch" >/dev/null

log "berth login --registry $R --identity-token-file (through the management host)"
out=$("$BERTH" login --registry "$R" --identity-token-file "$TMP/gha.jwt")
assert_eq "$out" "Login Succeeded" "berth login --identity-token-file"
for f in "$REGISTRY_AUTH_FILE" "$DOCKER_CONFIG/config.json"; do
  auth=$(jq -r --arg h "$HOST_R" '.auths[$h].auth' "$f" | base64 -d)
  assert_eq "${auth%%:*}" "$NULL_USER" "user stored in $f for $HOST_R"
  [[ ${#auth} -gt 100 ]] || fail "no refresh token stored in $f: $auth"
  assert_eq "$(jq -r --arg r "$REG" '.auths[$r] | has("auth")' "$f")" true "$f keeps its other logins"
done
resolve_in_clients "$HOST_R" "$HOST_R2"
make_image "$TMP/src" v1 2
src_digest=$(layout_digest "$TMP/src" v1)
log "skopeo push to $HOST_R/team/app:v1 with the stored credentials"
skopeo_cmd copy --quiet --dest-tls-verify=false --digestfile "$TMP/push.digest" \
  "oci:$TMP/src:v1" "docker://$HOST_R/team/app:v1"
assert_eq "$(cat "$TMP/push.digest")" "$src_digest" "digest skopeo reports"
must_fail "skopeo push to $HOST_R/other/app:v1 (outside team/*)" 'requested access to the resource is denied' \
  skopeo_cmd copy --quiet --dest-tls-verify=false "oci:$TMP/src:v1" "docker://$HOST_R/other/app:v1"
skopeo_cmd copy --quiet --src-tls-verify=false "docker://$HOST_R/team/app:v1" "oci:$TMP/back:v1"
assert_same_image "$TMP/src" v1 "$TMP/back" v1
control_api GET "/api/v1/registries/$R/repositories"
expect_status 200 "repositories of $R"
assert_eq "$(jq -c . "$TMP/http.body")" '["team/app"]' "repositories of $R"

# --- Kubernetes: curl on the login server, skopeo --dest-creds -----------------------------------

log "a Kubernetes service account token exchanged on $HOST_R (aud is an array)"
exchange "$HOST_R" "" "$(k8s_token)"
K8S_REFRESH=$(exchanged "Kubernetes exchange")
skopeo_cmd copy --quiet --dest-tls-verify=false --dest-creds "$NULL_USER:$K8S_REFRESH" \
  --digestfile "$TMP/k8s.digest" "oci:$TMP/src:v1" "docker://$HOST_R/team/k8s:v1"
assert_eq "$(cat "$TMP/k8s.digest")" "$src_digest" "digest of team/k8s:v1 skopeo reports"
assert_eq "$(skopeo_cmd inspect --raw --tls-verify=false --creds "$NULL_USER:$K8S_REFRESH" \
  "docker://$HOST_R/team/k8s:v1" | sha256)" "$src_digest" "team/k8s:v1 read back"
must_fail "the refresh token of $R on $HOST_R2" 'unauthori[sz]ed|authentication required' \
  skopeo_cmd inspect --raw --tls-verify=false --creds "$NULL_USER:$K8S_REFRESH" "docker://$HOST_R2/team/k8s:v1"
assert_eq "$(fetches /k8s/jwks)" 1 "JWKS fetches of the Kubernetes issuer"

# --- the service principal's own client secret, as `docker login -u <appId>` on ACR ------------

log "skopeo login -u <appId> with its client secret, then push to team/secret:v1"
skopeo_cmd login --tls-verify=false -u "$APP_ID" --password-stdin "$HOST_R" <<<"$APP_SECRET" >/dev/null
skopeo_cmd copy --quiet --dest-tls-verify=false --digestfile "$TMP/secret.digest" \
  "oci:$TMP/src:v1" "docker://$HOST_R/team/secret:v1"
assert_eq "$(cat "$TMP/secret.digest")" "$src_digest" "digest skopeo reports with the client secret"
must_fail "skopeo login -u <appId> with a wrong secret" 'unauthorized|invalid username' \
  skopeo_cmd login --tls-verify=false -u "$APP_ID" --password-stdin "$HOST_R" <<<"not-the-secret"

# --- refusals -----------------------------------------------------------------------------------

log "refusals"
refused "expired token" 401 invalid_grant expired "$(gha_token ".iat = \$now - 1200 | .nbf = .iat | .exp = \$now - 600")"
refused "token not valid yet" 401 invalid_grant "not valid yet" "$(gha_token ".nbf = \$now + 600")"
refused "another audience" 401 invalid_grant audience "$(gha_token '.aud = "api://AzureADTokenExchange"')"
refused "Kubernetes token without berth's audience" 401 invalid_grant audience \
  "$(k8s_token '.aud = ["https://kubernetes.default.svc.cluster.local"]')"
refused "another repository's subject" 401 invalid_grant 'subject "repo:org/other:ref:refs/heads/main"' \
  "$(gha_token '.sub = "repo:org/other:ref:refs/heads/main" | .repository = "org/other"')"
refused "a pull request of org/app (not a branch)" 401 invalid_grant 'repo:org/app:pull_request' \
  "$(gha_token '.sub = "repo:org/app:pull_request" | .event_name = "pull_request"')"
refused "another service account" 401 invalid_grant 'system:serviceaccount:ci:deployer' \
  "$(k8s_token '.sub = "system:serviceaccount:ci:deployer"')"
refused "an issuer no credential trusts" 401 invalid_grant "no federated credential trusts issuer $ROGUE" \
  "$(jwt "$KEYS/rogue-1.pem" "$(rs256 rogue-1)" "$(gha_claims '.iss = "'"$ROGUE"'"')")"
assert_eq "$(fetches /rogue/)" 0 "requests to the untrusted issuer"
body=$(gha_claims | b64url)
refused "alg none" 401 invalid_grant 'algorithm "none"' "$(printf '{"alg":"none","typ":"JWT"}' | b64url).$body."
hs_head=$(jq -cn '{alg: "HS256", typ: "JWT", kid: "gha-1"}' | b64url)
openssl rsa -in "$KEYS/gha-1.pem" -pubout -out "$KEYS/gha-1.pub.pem" 2>/dev/null
hs_sig=$(printf '%s.%s' "$hs_head" "$body" |
  openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(basenc --base16 -w0 <"$KEYS/gha-1.pub.pem")" -binary | b64url)
refused "HS256 keyed with the issuer's public key" 401 invalid_grant 'algorithm "HS256"' "$hs_head.$body.$hs_sig"
# org/other's genuine token, its claims rewritten to org/app's, the signature kept.
claims=$(gha_claims '.sub = "repo:org/other:ref:refs/heads/main" | .repository = "org/other"')
genuine=$(jwt "$KEYS/gha-1.pem" "$(rs256 gha-1)" "$claims")
forged=$(jq -c '.sub = "repo:org/app:ref:refs/heads/main" | .repository = "org/app"' <<<"$claims" | b64url)
refused "tampered claims (org/other's signature)" 401 invalid_grant "signature does not verify" \
  "${genuine%%.*}.$forged.${genuine##*.}"
refused "a key the issuer does not publish" 401 invalid_grant 'key "gha-unpublished"' \
  "$(jwt "$KEYS/gha-unpublished.pem" "$(rs256 gha-unpublished)" "$(gha_claims)")"
refused "a key of another issuer under a published key id" 401 invalid_grant "signature does not verify" \
  "$(jwt "$KEYS/rogue-1.pem" "$(rs256 gha-1)" "$(gha_claims)")"
refused "a registry where the principal has no role" 401 invalid_grant "no role in registry $R2" \
  "$GHA_TOKEN" "$REG" "$R2"

log "requests the exchange does not take"
post_exchange "$HOST_R" -d grant_type=password -d username=ci -d password=not-a-secret
oauth_error "grant_type password" 400 unsupported_grant_type "grant_type must be access_token"
post_exchange "$HOST_R" -d grant_type=access_token
oauth_error "no access_token" 400 invalid_request "access_token is required"
exchange "$REG" nosuchregistry1 "$GHA_TOKEN"
oauth_error "an unknown service" 400 invalid_request "unknown service nosuchregistry1"
refused "not a JWT" 401 invalid_grant "three dot-separated parts" not-a-jwt

log "berth login --identity-token-file with an expired token: one line on stderr, auth files kept"
gha_token ".iat = \$now - 1200 | .nbf = .iat | .exp = \$now - 600" >"$TMP/expired.jwt"
auth_files=$(cat "$REGISTRY_AUTH_FILE" "$DOCKER_CONFIG/config.json" | sha256)
rc=0
"$BERTH" login --registry "$R" --identity-token-file "$TMP/expired.jwt" >"$TMP/login.out" \
  2>"$TMP/login.err" || rc=$?
((rc != 0)) || fail "berth login with an expired identity token: exit status 0"
[[ ! -s "$TMP/login.out" ]] || fail "berth login with an expired token printed: $(cat "$TMP/login.out")"
[[ $(wc -l <"$TMP/login.err") == 1 ]] ||
  fail "berth login with an expired token: want one line on stderr, got: $(cat "$TMP/login.err")"
grep -q '^berth: .*expired' "$TMP/login.err" ||
  fail "berth login with an expired token does not say it expired: $(cat "$TMP/login.err")"
log "berth login with an expired token: exit $rc, $(cat "$TMP/login.err")"
assert_eq "$(cat "$REGISTRY_AUTH_FILE" "$DOCKER_CONFIG/config.json" | sha256)" "$auth_files" \
  "auth files after the refused login"

log "the issuer rotates a key in: berth fetches the JWKS again, at most once per 2 s"
publish gha "$GHA_JWK" "$(cat "$KEYS/gha-2.jwk")"
rotated=$(jwt "$KEYS/gha-2.pem" "$(rs256 gha-2)" "$(gha_claims)")
unpublished=$(jwt "$KEYS/gha-unpublished.pem" "$(rs256 gha-unpublished)" "$(gha_claims)")
jwks_fetches=$(fetches /gha/jwks)
sleep 2.2 # oidc_unknown_key_refetch_seconds past the last fetch the unpublished key may have made
exchange "$HOST_R" "" "$rotated"
exchanged "token of the key rotated in" >/dev/null
refused "an unpublished key just after" 401 invalid_grant 'key "gha-unpublished"' "$unpublished"
assert_eq "$(fetches /gha/jwks)" $((jwks_fetches + 1)) \
  "JWKS fetches for a new key id, then an unknown one within 2 s"
exchange "$HOST_R" "" "$GHA_TOKEN"
exchanged "token of the old key, still published" >/dev/null

log "the issuer goes away: cached keys still verify, a new key id is refused saying why"
kill -TERM "$ISSUER_PID"
wait "$ISSUER_PID" || fail "the test issuer did not exit 0 on SIGTERM"
others=()
for pid in "${EXTRA_PIDS[@]}"; do [[ "$pid" == "$ISSUER_PID" ]] || others+=("$pid"); done
EXTRA_PIDS=("${others[@]}")
exchange "$HOST_R" "" "$GHA_TOKEN"
exchanged "a token of a cached key, the issuer down" >/dev/null
sleep 2.2 # past oidc_unknown_key_refetch_seconds, so that the unknown key asks the issuer
started=$SECONDS
refused "an unknown key, the issuer down" 401 invalid_grant 'could not be read' \
  "$(jwt "$KEYS/gha-unpublished.pem" "$(rs256 gha-unpublished-2)" "$(gha_claims)")"
((SECONDS - started < 30)) || fail "the refusal took $((SECONDS - started)) s: not bounded"

log "deleting the GitHub federated credential ends the trust in the same token"
control_api DELETE "$FC/github-branches"
expect_status 204 "delete the GitHub federated credential"
refused "the same token after its federated credential was deleted" 401 invalid_grant \
  "no federated credential trusts issuer $GHA" "$GHA_TOKEN"
must_fail "berth login with the same token" 'no federated credential trusts issuer' \
  "$BERTH" login --registry "$R" --identity-token-file "$TMP/gha.jwt"
exchange "$HOST_R" "" "$(k8s_token)"
exchanged "the Kubernetes credential, still there" >/dev/null

log "deleting the service principal ends its refresh tokens and its federated credentials"
v2_status() {
  curl -sS --max-time 60 -o /dev/null -w '%{http_code}' -H "Host: $HOST_R" -u "$NULL_USER:$1" \
    "http://$REG/v2/"
}
assert_eq "$(v2_status "$K8S_REFRESH")" 200 "the Kubernetes refresh token on /v2/"
control_api DELETE "/api/v1/service-principals/$APP_ID"
expect_status 204 "delete the service principal"
assert_eq "$(v2_status "$K8S_REFRESH")" 401 "the Kubernetes refresh token after the delete"
refused "a Kubernetes token after the service principal was deleted" 401 invalid_grant \
  "no federated credential trusts issuer $K8S" "$(k8s_token)"
assert_eq "$(fetches /rogue/)" 0 "requests to the untrusted issuer"
