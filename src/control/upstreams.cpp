// Credential sets (/api/v1/registries/{registry}/credential-sets[/{name}]), imports
// (/api/v1/registries/{registry}/imports[/{name}]), cache rules
// (/api/v1/registries/{registry}/cache-rules[/{name}]) and replications
// (/api/v1/registries/{registry}/replications[/{name}[/sync]]).
#include <boost/json.hpp>
#include <cctype>
#include <chrono>

#include "auth/roles.hpp"
#include "control/errors.hpp"
#include "control/handlers.hpp"
#include "control/json.hpp"
#include "core/random.hpp"
#include "core/reference.hpp"
#include "events/webhook_rules.hpp"
#include "upstream/cache_rules.hpp"
#include "upstream/client.hpp"

namespace berth::control {
namespace json = boost::json;
namespace {

constexpr size_t kMaxCredentialSets = 100;
constexpr size_t kMaxCacheRules = 1000;  // ACR's limit
constexpr size_t kMaxTargets = 16;
constexpr size_t kMaxReplications = 20;
constexpr size_t kMaxReplicationScopes = 50;
constexpr size_t kMaxSecret = 4096;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json::value msTime(int64_t ms) { return ms > 0 ? json::value(rfc3339(ms / 1000)) : nullptr; }

// The host a login server names, as the image references of imports name it.
std::string normalHost(std::string_view server) {
  auto parsed = upstream::parseImageRef(std::string(server) + "/x");
  return parsed ? parsed->host : std::string();
}

Result<std::string> checkLoginServer(const std::string& server, bool allowLoopback) {
  const auto host = normalHost(server);
  if (server.empty() || server.size() > 255 || host.empty() ||
      server.find('/') != std::string::npos) {
    return error(Code::InvalidArgument,
                 "invalid login server \"" + server.substr(0, 300) + "\": give HOST or HOST:PORT");
  }
  if (auto r = events::checkUri("https://" + upstream::apiHost(host) + "/", allowLoopback); !r) {
    return error(Code::InvalidArgument, "login server " + host + ": " + r.error().detail);
  }
  return host;
}

Result<void> checkSecretText(std::string_view what, const std::string& value) {
  if (value.empty() || value.size() > kMaxSecret ||
      value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    return error(Code::InvalidArgument, std::string(what) + " must be one line of 1 to 4096 bytes");
  }
  return {};
}

json::object credentialSetJson(const meta::CredentialSet& set) {
  return {{"name", set.name},
          {"loginServer", set.loginServer},
          {"username", set.username},
          {"creationDate", rfc3339(set.created)},
          {"updatedDate", rfc3339(set.updated)}};
}

Result<meta::CredentialSet> findCredentialSet(Call& c, const std::string& name) {
  auto found = c.deps.upstreams.store.credentialSet(c.registryId(), name);
  if (!found) return found.takeError();
  if (!*found) {
    return error(Code::NotFound,
                 "credential set " + name + " not found in registry " + c.settings().name);
  }
  return std::move(**found);
}

json::object importJson(const meta::ImportJob& raw) {
  const auto job = upstream::ImportRunner::observed(raw, nowMs());
  json::array targets;
  for (const auto& t : job.targets) targets.emplace_back(t);
  return {{"id", job.id},
          {"source", job.source},
          {"targetTags", std::move(targets)},
          {"status", job.state},
          {"error", stringOrNull(job.error)},
          {"digest", stringOrNull(job.digest)},
          {"progress", json::object{{"manifests", job.manifests},
                                    {"blobsCopied", job.blobsCopied},
                                    {"blobsMounted", job.blobsMounted},
                                    {"blobsPresent", job.blobsPresent},
                                    {"bytesCopied", job.bytesCopied}}},
          {"identity", job.identity},
          {"creationDate", msTime(job.createdMs)},
          {"updatedDate", msTime(job.updatedMs)},
          {"finishDate", msTime(job.finishedMs)}};
}

// "repo:tag" or "repo" (then the source's tag, or none for a source named by digest).
Result<std::pair<std::string, std::string>> parseTarget(const std::string& text,
                                                        const upstream::ImageRef& source) {
  std::string repository = text, tag;
  if (const auto colon = text.rfind(':'); colon != std::string::npos) {
    repository = text.substr(0, colon);
    tag = text.substr(colon + 1);
    if (!isValidTag(tag)) {
      return error(Code::InvalidArgument, "invalid tag in target \"" + text.substr(0, 300) + "\"");
    }
  } else {
    tag = source.tag;
  }
  if (!isValidRepositoryName(repository)) {
    return error(Code::InvalidArgument,
                 "invalid repository name in target \"" + text.substr(0, 300) + "\"");
  }
  return std::pair(repository, tag);
}

// The registry of this berth whose login server `host` is, if any: an import from it reads its
// store instead of the network.
Result<std::optional<meta::RegistrySettings>> localRegistry(Call& c, const std::string& host) {
  const auto dot = host.find('.');
  if (dot == std::string::npos) return std::optional<meta::RegistrySettings>();
  auto settings = c.deps.identities.registryByName(host.substr(0, dot));
  if (!settings) return settings.takeError();
  if (!*settings) return std::optional<meta::RegistrySettings>();
  if (normalHost(c.deps.host.loginServer((*settings)->name)) != host) {
    return std::optional<meta::RegistrySettings>();
  }
  return settings;
}

// Whether the caller may pull `repository` from the local registry `source`: the operator; a
// principal whose roles let it pull there; or the source registry's own credentials (its admin
// account or a token) when they are given.
Result<void> checkLocalSource(Call& c, const meta::RegistrySettings& source,
                              const std::string& repository,
                              const upstream::Credentials& credentials) {
  uint8_t actions = 0;
  if (!credentials.empty()) {
    auto signedIn =
        c.deps.authenticator.login(source, credentials.username, credentials.password, c.remote);
    if (signedIn.failure != auth::AuthFailure::None) {
      return error(Code::Denied, "registry " + source.name + " refused the credentials of " +
                                     credentials.username);
    }
    actions = signedIn.identity.permissions.actionsOn(repository);
  } else if (c.caller.kind == Caller::Kind::Operator) {
    actions = auth::kContentRead;
  } else if (c.caller.kind == Caller::Kind::Principal) {
    actions = auth::permissionsIn(c.caller.roles, source.id).actionsOn(repository);
  }
  if ((actions & auth::kContentRead) == 0) {
    return error(Code::Denied, "importing " + repository + " from registry " + source.name +
                                   " needs the right to pull it there: give that registry's "
                                   "credentials, or ask as a principal with AcrPull on it");
  }
  return {};
}

json::object cacheRuleJson(const meta::CacheRule& rule) {
  return {{"name", rule.name},
          {"sourceRepository", rule.source},
          {"targetRepository", rule.target},
          {"credentialSet", stringOrNull(rule.credentialSet)},
          {"creationDate", rfc3339(rule.created)},
          {"updatedDate", rfc3339(rule.updated)}};
}

Result<meta::CacheRule> findCacheRule(Call& c) {
  auto found = c.deps.upstreams.store.cacheRule(c.registryId(), c.name);
  if (!found) return found.takeError();
  if (!*found) {
    return error(Code::NotFound,
                 "cache rule " + c.name + " not found in registry " + c.settings().name);
  }
  return std::move(**found);
}

// A credential set of the registry for the rule's source host ("" for none).
Result<void> checkRuleSet(Call& c, const meta::CacheRule& rule) {
  if (rule.credentialSet.empty()) return {};
  auto set = findCredentialSet(c, rule.credentialSet);
  if (!set) return set.takeError();
  const auto host = normalHost(rule.source.substr(0, rule.source.find('/')));
  if (set->loginServer != host) {
    return error(Code::InvalidArgument,
                 "credential set " + set->name + " is for " + set->loginServer + ", not " + host);
  }
  return {};
}

void rulesChanged(Call& c) {
  if (c.deps.upstreams.rulesChanged) c.deps.upstreams.rulesChanged(c.registryId());
}

}  // namespace

Reply listCacheRules(Call& c) {
  auto rules = c.deps.upstreams.store.cacheRules(c.registryId());
  if (!rules) return rules.takeError();
  json::array out;
  for (const auto& r : *rules) out.push_back(cacheRuleJson(r));
  return jsonReply(200, out);
}

Reply createCacheRule(Call& c) {
  BodyFields f(c.body);
  auto name = f.string("name");
  auto source = f.string("sourceRepository");
  auto target = f.string("targetRepository");
  auto setName = f.string("credentialSet");
  if (auto r = f.finish(); !r) return r.takeError();
  if (!name) return missingField("name");
  if (!source) return missingField("sourceRepository");
  if (!target) return missingField("targetRepository");
  if (!isValidIdentityName(*name)) {
    return error(Code::InvalidArgument, "a cache rule name " + std::string(kIdentityNameRule));
  }
  if (auto r = upstream::checkCacheRule(*source, *target); !r) {
    return error(Code::InvalidArgument, r.error().message);
  }
  auto host =
      checkLoginServer(source->substr(0, source->find('/')), c.deps.upstreams.allowLoopback);
  if (!host) return host.takeError();
  meta::CacheRule rule;
  rule.registry = c.registryId();
  rule.name = *name;
  rule.source = *host + source->substr(source->find('/'));
  rule.target = *target;
  rule.credentialSet = setName.value_or("");
  if (auto r = checkRuleSet(c, rule); !r) return r.takeError();
  auto existing = c.deps.upstreams.store.cacheRules(c.registryId());
  if (!existing) return existing.takeError();
  if (existing->size() >= kMaxCacheRules) {
    return error(Code::Conflict,
                 "a registry has at most " + std::to_string(kMaxCacheRules) + " cache rules");
  }
  if (auto r = c.deps.upstreams.store.createCacheRule(rule); !r) return r.takeError();
  rulesChanged(c);
  c.name = rule.name;
  auto created = findCacheRule(c);
  if (!created) return created.takeError();
  return jsonReply(201, cacheRuleJson(*created));
}

Reply showCacheRule(Call& c) {
  auto rule = findCacheRule(c);
  if (!rule) return rule.takeError();
  return jsonReply(200, cacheRuleJson(*rule));
}

Reply updateCacheRule(Call& c) {
  BodyFields f(c.body);
  auto setName = f.string("credentialSet");
  if (auto r = f.finish(); !r) return r.takeError();
  auto rule = findCacheRule(c);
  if (!rule) return rule.takeError();
  if (setName) rule->credentialSet = *setName;
  if (auto r = checkRuleSet(c, *rule); !r) return r.takeError();
  auto updated = c.deps.upstreams.store.updateCacheRule(*rule);
  if (!updated) return updated.takeError();
  if (!*updated) return error(Code::NotFound, "cache rule " + c.name + " not found");
  rulesChanged(c);
  auto now = findCacheRule(c);
  if (!now) return now.takeError();
  return jsonReply(200, cacheRuleJson(*now));
}

Reply deleteCacheRule(Call& c) {
  auto deleted = c.deps.upstreams.store.deleteCacheRule(c.registryId(), c.name);
  if (!deleted) return deleted.takeError();
  if (!*deleted) return error(Code::NotFound, "cache rule " + c.name + " not found");
  rulesChanged(c);
  return http::Response::empty(204);
}

Reply listCredentialSets(Call& c) {
  auto sets = c.deps.upstreams.store.credentialSets(c.registryId());
  if (!sets) return sets.takeError();
  json::array out;
  for (const auto& s : *sets) out.push_back(credentialSetJson(s));
  return jsonReply(200, out);
}

Reply createCredentialSet(Call& c) {
  BodyFields f(c.body);
  auto name = f.string("name");
  auto server = f.string("loginServer");
  auto username = f.string("username");
  auto password = f.string("password");
  if (auto r = f.finish(); !r) return r.takeError();
  if (!name) return missingField("name");
  if (!server) return missingField("loginServer");
  if (!username) return missingField("username");
  if (!password) return missingField("password");
  if (!isValidIdentityName(*name)) {
    return error(Code::InvalidArgument, "a credential set name " + std::string(kIdentityNameRule));
  }
  auto host = checkLoginServer(*server, c.deps.upstreams.allowLoopback);
  if (!host) return host.takeError();
  if (auto r = checkSecretText("username", *username); !r) return r.takeError();
  if (auto r = checkSecretText("password", *password); !r) return r.takeError();
  auto existing = c.deps.upstreams.store.credentialSets(c.registryId());
  if (!existing) return existing.takeError();
  if (existing->size() >= kMaxCredentialSets) {
    return error(Code::Conflict, "a registry has at most " + std::to_string(kMaxCredentialSets) +
                                     " credential sets");
  }
  meta::CredentialSet set;
  set.registry = c.registryId();
  set.name = *name;
  set.loginServer = *host;
  set.username = *username;
  set.sealedPassword = c.deps.events.secrets.seal(*password);
  if (auto r = c.deps.upstreams.store.createCredentialSet(set); !r) return r.takeError();
  auto created = findCredentialSet(c, set.name);
  if (!created) return created.takeError();
  return jsonReply(201, credentialSetJson(*created));
}

Reply showCredentialSet(Call& c) {
  auto set = findCredentialSet(c, c.name);
  if (!set) return set.takeError();
  return jsonReply(200, credentialSetJson(*set));
}

Reply updateCredentialSet(Call& c) {
  BodyFields f(c.body);
  auto server = f.string("loginServer");
  auto username = f.string("username");
  auto password = f.string("password");
  if (auto r = f.finish(); !r) return r.takeError();
  auto set = findCredentialSet(c, c.name);
  if (!set) return set.takeError();
  if (server) {
    auto host = checkLoginServer(*server, c.deps.upstreams.allowLoopback);
    if (!host) return host.takeError();
    set->loginServer = *host;
  }
  if (username) {
    if (auto r = checkSecretText("username", *username); !r) return r.takeError();
    set->username = *username;
  }
  if (password) {
    if (auto r = checkSecretText("password", *password); !r) return r.takeError();
    set->sealedPassword = c.deps.events.secrets.seal(*password);
  }
  auto updated = c.deps.upstreams.store.updateCredentialSet(*set);
  if (!updated) return updated.takeError();
  if (!*updated) return error(Code::NotFound, "credential set " + c.name + " not found");
  auto now = findCredentialSet(c, c.name);
  if (!now) return now.takeError();
  return jsonReply(200, credentialSetJson(*now));
}

Reply deleteCredentialSet(Call& c) {
  auto deleted = c.deps.upstreams.store.deleteCredentialSet(c.registryId(), c.name);
  if (!deleted) return deleted.takeError();
  if (!*deleted) return error(Code::NotFound, "credential set " + c.name + " not found");
  return http::Response::empty(204);
}

Reply createImport(Call& c) {
  BodyFields f(c.body);
  auto sourceText = f.string("source");
  auto targets = f.strings("targetTags");
  auto setName = f.string("credentialSet");
  auto username = f.string("username");
  auto password = f.string("password");
  auto platform = f.string("platform");
  auto force = f.boolean("force");
  if (auto r = f.finish(); !r) return r.takeError();
  if (!sourceText) return missingField("source");
  auto source = upstream::parseImageRef(*sourceText);
  if (!source) return error(Code::InvalidArgument, source.error().message);
  auto local = localRegistry(c, source->host);
  if (!local) return local.takeError();
  if (!*local) {
    if (auto r = checkLoginServer(source->host, c.deps.upstreams.allowLoopback); !r) {
      return r.takeError();
    }
  }
  if (platform && !upstream::isValidPlatform(*platform)) {
    return error(Code::InvalidArgument,
                 "invalid platform \"" + platform->substr(0, 100) + "\": give OS/ARCH[/VARIANT]");
  }
  upstream::ImportRequest request;
  request.registry = c.settings();
  request.source = *source;
  request.platform = platform.value_or("");
  request.force = force.value_or(false);
  request.actor = c.actor();
  const auto wanted = targets.value_or(std::vector<std::string>{});
  if (wanted.size() > kMaxTargets) {
    return error(Code::InvalidArgument,
                 "at most " + std::to_string(kMaxTargets) + " target tags per import");
  }
  for (const auto& t : wanted) {
    auto target = parseTarget(t, *source);
    if (!target) return target.takeError();
    request.targets.push_back(std::move(*target));
  }
  if (request.targets.empty()) request.targets.emplace_back(source->repository, source->tag);

  if (setName && (username || password)) {
    return error(Code::InvalidArgument, "give a credential set or a username and password");
  }
  if (username.has_value() != password.has_value()) {
    return error(Code::InvalidArgument, "give both username and password, or neither");
  }
  if (setName) {
    auto set = findCredentialSet(c, *setName);
    if (!set) return set.takeError();
    if (set->loginServer != source->host) {
      return error(Code::InvalidArgument, "credential set " + set->name + " is for " +
                                              set->loginServer + ", not " + source->host);
    }
    auto unsealed = c.deps.events.secrets.unseal(set->sealedPassword);
    if (!unsealed) {
      return error(Code::Internal,
                   "the password of credential set " + set->name + " cannot be read");
    }
    request.credentials = {set->username, std::move(*unsealed)};
  } else if (username) {
    if (auto r = checkSecretText("username", *username); !r) return r.takeError();
    if (auto r = checkSecretText("password", *password); !r) return r.takeError();
    request.credentials = {*username, *password};
  }

  if (*local) {
    if (auto r = checkLocalSource(c, **local, source->repository, request.credentials); !r) {
      return r.takeError();
    }
    request.localSource = **local;
  }

  meta::ImportJob job;
  job.id = newUuid();
  job.registry = c.registryId();
  job.source = source->str();
  for (const auto& [repository, tag] : request.targets) {
    job.targets.push_back(tag.empty() ? repository : repository + ":" + tag);
  }
  job.identity = request.actor.identity;
  auto queued = c.deps.upstreams.imports.submit(std::move(request), std::move(job));
  if (!queued) return queued.takeError();
  auto resp = jsonReply(202, importJson(*queued));
  resp.headers.add("Location",
                   "/api/v1/registries/" + c.settings().name + "/imports/" + queued->id);
  return resp;
}

Reply listImports(Call& c) {
  size_t limit = 100;
  if (auto n = c.param("n")) {
    limit = 0;
    for (const char ch : *n) {
      if (!std::isdigit(static_cast<unsigned char>(ch)) || limit > kMaxPage) {
        limit = kMaxPage + 1;
        break;
      }
      limit = limit * 10 + static_cast<size_t>(ch - '0');
    }
    if (limit == 0 || limit > kMaxPage) {
      return error(Code::InvalidArgument, "n must be 1 to " + std::to_string(kMaxPage));
    }
  }
  auto jobs = c.deps.upstreams.store.importJobs(c.registryId(), limit);
  if (!jobs) return jobs.takeError();
  json::array out;
  for (const auto& j : *jobs) out.push_back(importJson(j));
  return jsonReply(200, out);
}

Reply showImport(Call& c) {
  auto job = c.deps.upstreams.store.importJob(c.registryId(), c.name);
  if (!job) return job.takeError();
  if (!*job) {
    return error(Code::NotFound,
                 "import " + c.name + " not found in registry " + c.settings().name);
  }
  return jsonReply(200, importJson(**job));
}

}  // namespace berth::control

namespace berth::control {
namespace {

json::object replicationJson(const meta::Replication& r, const meta::ReplicationStatus& st) {
  json::array scopes;
  for (const auto& scope : r.scopes) scopes.emplace_back(scope);
  const int64_t now = nowMs();
  const int64_t lagMs = st.oldestEventMs > 0 ? std::max<int64_t>(0, now - st.oldestEventMs) : 0;
  return {{"name", r.name},
          {"target", r.target},
          {"credentialSet", stringOrNull(r.credentialSet)},
          {"scopes", std::move(scopes)},
          {"mode", r.mode},
          {"enabled", r.enabled},
          {"creationDate", rfc3339(r.created)},
          {"updatedDate", rfc3339(r.updated)},
          {"status", json::object{{"queued", st.queued},
                                  {"lagSeconds", static_cast<double>(lagMs) / 1000.0},
                                  {"oldestChange", msTime(st.oldestEventMs)},
                                  {"replicated", st.replicated},
                                  {"failed", st.failed},
                                  {"dropped", st.dropped},
                                  {"lastSuccess", msTime(st.lastSuccessMs)},
                                  {"lastError", stringOrNull(st.lastError)},
                                  {"lastErrorDate", msTime(st.lastErrorMs)},
                                  {"syncRequested", msTime(st.syncRequestedMs)},
                                  {"lastSync", msTime(st.lastSyncMs)}}}};
}

Result<meta::Replication> findReplication(Call& c) {
  auto found = c.deps.upstreams.store.replication(c.registryId(), c.name);
  if (!found) return found.takeError();
  if (!*found) {
    return error(Code::NotFound,
                 "replication " + c.name + " not found in registry " + c.settings().name);
  }
  return std::move(**found);
}

Reply replicationReply(Call& c, int status) {
  auto r = findReplication(c);
  if (!r) return r.takeError();
  auto st = c.deps.upstreams.store.replicationStatus(c.registryId(), c.name);
  if (!st) return st.takeError();
  return jsonReply(status, replicationJson(*r, *st));
}

// The target, scopes and credential set of a replication as asked, checked.
Result<void> checkReplication(Call& c, meta::Replication& r) {
  auto target = upstream::parseReplicationTarget(r.target);
  if (!target) return error(Code::InvalidArgument, target.error().message);
  if (auto ok = events::checkUri(target->url() + "/", c.deps.upstreams.allowLoopback); !ok) {
    return error(Code::InvalidArgument,
                 "replication target " + target->url() + ": " + ok.error().detail);
  }
  r.target = target->url();
  if (r.scopes.size() > kMaxReplicationScopes) {
    return error(Code::InvalidArgument,
                 "at most " + std::to_string(kMaxReplicationScopes) + " scopes per replication");
  }
  for (const auto& scope : r.scopes) {
    if (!events::isValidScope(upstream::replicationScope(scope))) {
      return error(Code::InvalidArgument,
                   "invalid scope \"" + scope.substr(0, 300) +
                       "\": give REPO, PREFIX/*, * or any of them with :TAG (a tag, * or a "
                       "prefix ending in *)");
    }
  }
  if (r.credentialSet.empty()) return {};
  auto set = findCredentialSet(c, r.credentialSet);
  if (!set) return set.takeError();
  if (set->loginServer != normalHost(target->host)) {
    return error(Code::InvalidArgument, "credential set " + set->name + " is for " +
                                            set->loginServer + ", not " + target->host);
  }
  return {};
}

void replicationChanged(Call& c, const std::string& name) {
  if (c.deps.upstreams.replicator) c.deps.upstreams.replicator->forget(c.registryId(), name);
}

}  // namespace

Reply listReplications(Call& c) {
  auto list = c.deps.upstreams.store.replications(c.registryId());
  if (!list) return list.takeError();
  json::array out;
  for (const auto& r : *list) {
    auto st = c.deps.upstreams.store.replicationStatus(c.registryId(), r.name);
    if (!st) return st.takeError();
    out.push_back(replicationJson(r, *st));
  }
  return jsonReply(200, out);
}

Reply createReplication(Call& c) {
  BodyFields f(c.body);
  auto name = f.string("name");
  auto target = f.string("target");
  auto setName = f.string("credentialSet");
  auto scopes = f.strings("scopes");
  auto mode = f.string("mode");
  auto enabled = f.boolean("enabled");
  if (auto r = f.finish(); !r) return r.takeError();
  if (!name) return missingField("name");
  if (!target) return missingField("target");
  if (!isValidIdentityName(*name)) {
    return error(Code::InvalidArgument, "a replication name " + std::string(kIdentityNameRule));
  }
  if (mode && *mode != "push") {
    return error(Code::InvalidArgument,
                 "mode must be push (berth copies its changes to the target; to copy from "
                 "another registry, import or make a cache rule)");
  }
  meta::Replication r;
  r.registry = c.registryId();
  r.name = *name;
  r.target = *target;
  r.credentialSet = setName.value_or("");
  r.scopes = scopes.value_or(std::vector<std::string>{});
  r.enabled = enabled.value_or(true);
  if (auto ok = checkReplication(c, r); !ok) return ok.takeError();
  auto existing = c.deps.upstreams.store.replications(c.registryId());
  if (!existing) return existing.takeError();
  if (existing->size() >= kMaxReplications) {
    return error(Code::Conflict,
                 "a registry has at most " + std::to_string(kMaxReplications) + " replications");
  }
  if (auto ok = c.deps.upstreams.store.createReplication(r); !ok) return ok.takeError();
  c.name = r.name;
  return replicationReply(c, 201);
}

Reply showReplication(Call& c) { return replicationReply(c, 200); }

Reply updateReplication(Call& c) {
  BodyFields f(c.body);
  auto target = f.string("target");
  auto setName = f.string("credentialSet");
  auto scopes = f.strings("scopes");
  auto enabled = f.boolean("enabled");
  if (auto r = f.finish(); !r) return r.takeError();
  auto r = findReplication(c);
  if (!r) return r.takeError();
  if (target) r->target = *target;
  if (setName) r->credentialSet = *setName;
  if (scopes) r->scopes = *scopes;
  if (enabled) r->enabled = *enabled;
  if (auto ok = checkReplication(c, *r); !ok) return ok.takeError();
  auto updated = c.deps.upstreams.store.updateReplication(*r);
  if (!updated) return updated.takeError();
  if (!*updated) return error(Code::NotFound, "replication " + c.name + " not found");
  replicationChanged(c, c.name);
  return replicationReply(c, 200);
}

Reply deleteReplication(Call& c) {
  auto deleted = c.deps.upstreams.store.deleteReplication(c.registryId(), c.name);
  if (!deleted) return deleted.takeError();
  if (!*deleted) return error(Code::NotFound, "replication " + c.name + " not found");
  replicationChanged(c, c.name);
  return http::Response::empty(204);
}

Reply syncReplication(Call& c) {
  auto asked = c.deps.upstreams.store.requestSync(c.registryId(), c.name, nowMs());
  if (!asked) return asked.takeError();
  if (!*asked) return error(Code::NotFound, "replication " + c.name + " not found");
  if (c.deps.upstreams.replicator) c.deps.upstreams.replicator->wake();
  return replicationReply(c, 202);
}

}  // namespace berth::control
