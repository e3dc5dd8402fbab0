// Storage lifecycle on the control API: purge a repository, purge schedules, the retention and
// soft-delete policies, a tag's history and rolling a tag back.
#include <re2/re2.h>

#include <boost/json.hpp>
#include <charconv>
#include <ctime>

#include "control/errors.hpp"
#include "control/handlers.hpp"
#include "control/json.hpp"
#include "core/log.hpp"
#include "core/reference.hpp"
#include "jobs/cron.hpp"
#include "jobs/purge.hpp"

namespace berth::control {
namespace json = boost::json;
namespace {

constexpr uint32_t kMaxPolicyDays = 365;

Result<int64_t> agoOf(const std::optional<std::string>& text) {
  if (!text) return 0;
  auto seconds = jobs::parseDuration(*text);
  if (!seconds) {
    return error(Code::InvalidArgument,
                 "ago must be a duration such as 30m, 12h, 7d or 2d3h6m, got \"" + *text + "\"");
  }
  return *seconds;
}

json::object purgeResultJson(const jobs::PurgeResult& r) {
  json::array tags, manifests, locked;
  for (const auto& t : r.tags) tags.push_back(json::object{{"tag", t.tag}, {"digest", t.digest}});
  for (const auto& m : r.manifests) manifests.emplace_back(m);
  for (const auto& l : r.locked) locked.emplace_back(l);
  return {{"tagsDeleted", std::move(tags)},
          {"manifestsDeleted", std::move(manifests)},
          {"locked", std::move(locked)}};
}

json::object scheduleJson(const meta::PurgeSchedule& s) {
  json::array filters;
  for (const auto& f : s.filters) filters.emplace_back(f);
  json::value last = nullptr;
  if (!s.lastResult.empty()) {
    boost::system::error_code ec;
    last = json::parse(s.lastResult, ec);
    if (ec) last = nullptr;
  }
  return {{"id", std::to_string(s.id)},
          {"schedule", s.cron},
          {"filters", std::move(filters)},
          {"agoSeconds", s.agoSeconds},
          {"untagged", s.untagged},
          {"keep", s.keep},
          {"createdTime", rfc3339(s.created)},
          {"nextRunTime",
           s.nextRun == INT64_MAX ? json::value(nullptr) : json::value(rfc3339(s.nextRun))},
          {"lastRunTime", s.lastRun ? json::value(rfc3339(s.lastRun)) : json::value(nullptr)},
          {"lastResult", std::move(last)}};
}

json::object policyJson(const meta::Policy& p) {
  return {{"status", p.enabled ? "enabled" : "disabled"},
          {"days", p.days},
          {"lastUpdatedTime", p.updated ? json::value(rfc3339(p.updated)) : json::value(nullptr)}};
}

json::object policiesJson(const meta::Policies& p) {
  return {{"retentionPolicy", policyJson(p.retention)},
          {"softDeletePolicy", policyJson(p.softDelete)}};
}

// {"status": "enabled"|"disabled", "days": N}, either member optional.
Result<void> readPolicy(const json::object& body, std::string_view key, meta::Policy& policy) {
  const auto* member = body.if_contains(key);
  if (!member) return {};
  if (!member->is_object()) {
    return error(Code::InvalidArgument, "field \"" + std::string(key) + "\" must be an object");
  }
  BodyFields f(member->as_object());
  auto status = f.string("status");
  auto days = f.unsignedInteger("days");
  if (auto done = f.finish(); !done) return done;
  if (status) {
    if (*status != "enabled" && *status != "disabled") {
      return error(Code::InvalidArgument, std::string(key) + ".status must be enabled or disabled");
    }
    policy.enabled = *status == "enabled";
  }
  if (days) {
    if (*days < 1 || *days > kMaxPolicyDays) {
      return error(Code::InvalidArgument, std::string(key) + ".days must be between 1 and " +
                                              std::to_string(kMaxPolicyDays));
    }
    policy.days = static_cast<uint32_t>(*days);
  }
  policy.updated = std::time(nullptr);
  return {};
}

}  // namespace

Reply purgeRepository(Call& c) {
  BodyFields f(c.body);
  auto tagFilter = f.string("tagFilter");
  auto ago = f.string("ago");
  auto untagged = f.boolean("untagged");
  auto keep = f.unsignedInteger("keep");
  auto dryRun = f.boolean("dryRun");
  if (auto done = f.finish(); !done) return done.takeError();
  auto agoSeconds = agoOf(ago);
  if (!agoSeconds) return agoSeconds.takeError();
  std::optional<RE2> pattern;
  if (tagFilter) {
    pattern.emplace(*tagFilter, RE2::Quiet);
    if (!pattern->ok()) {
      return error(Code::InvalidArgument,
                   "invalid tagFilter \"" + *tagFilter + "\": " + pattern->error());
    }
  }
  if (!pattern && !untagged.value_or(false)) {
    return error(Code::InvalidArgument, "give tagFilter, untagged, or both: nothing to purge");
  }
  auto repository = repositoryId(c);
  if (!repository) return repository.takeError();
  jobs::PurgeOptions options;
  options.tags = pattern ? &*pattern : nullptr;
  options.before = std::time(nullptr) - *agoSeconds;
  options.untagged = untagged.value_or(false);
  options.keep = keep.value_or(0);
  options.dryRun = dryRun.value_or(false);
  options.actor = c.actor();
  auto result = jobs::purgeRepository(c.deps.meta, *repository, options);
  if (!result) return result.takeError();
  if (!options.dryRun && (!result->tags.empty() || !result->manifests.empty())) {
    c.deps.host.forget(c.registryId());
    log::info("repository purged", {{"registry", c.settings().name},
                                    {"repository", c.repository},
                                    {"tags", result->tags.size()},
                                    {"manifests", result->manifests.size()},
                                    {"request_id", c.requestId}});
  }
  auto out = purgeResultJson(*result);
  out.emplace("repository", c.repository);
  out.emplace("dryRun", options.dryRun);
  return jsonReply(200, out);
}

Reply listPurgeSchedules(Call& c) {
  auto schedules = c.deps.meta.purgeSchedules(c.registryId());
  if (!schedules) return schedules.takeError();
  json::array out;
  for (const auto& s : *schedules) out.push_back(scheduleJson(s));
  return jsonReply(200, out);
}

Reply createPurgeSchedule(Call& c) {
  BodyFields f(c.body);
  auto cron = f.string("schedule");
  auto filters = f.strings("filters");
  auto ago = f.string("ago");
  auto untagged = f.boolean("untagged");
  auto keep = f.unsignedInteger("keep");
  if (auto done = f.finish(); !done) return done.takeError();
  if (!cron) return missingField("schedule");
  std::string why;
  auto parsed = jobs::CronSchedule::parse(*cron, &why);
  if (!parsed) return error(Code::InvalidArgument, "schedule \"" + *cron + "\": " + why);
  if ((!filters || filters->empty()) && !untagged.value_or(false)) {
    return error(Code::InvalidArgument, "give filters, untagged, or both: nothing to purge");
  }
  for (const auto& filter : filters.value_or(std::vector<std::string>{})) {
    if (!jobs::parseFilter(filter, &why)) {
      return error(Code::InvalidArgument, "filter \"" + filter + "\": " + why);
    }
  }
  auto agoSeconds = agoOf(ago);
  if (!agoSeconds) return agoSeconds.takeError();
  meta::PurgeSchedule s;
  s.registry = c.registryId();
  s.cron = *cron;
  s.filters = filters.value_or(std::vector<std::string>{});
  s.agoSeconds = *agoSeconds;
  s.untagged = untagged.value_or(false);
  s.keep = static_cast<uint32_t>(std::min<uint64_t>(keep.value_or(0), UINT32_MAX));
  s.nextRun = parsed->next(std::time(nullptr));
  auto id = c.deps.meta.createPurgeSchedule(s);
  if (!id) return id.takeError();
  auto all = c.deps.meta.purgeSchedules(c.registryId());
  if (!all) return all.takeError();
  for (const auto& created : *all) {
    if (created.id == *id) return jsonReply(201, scheduleJson(created));
  }
  return error(Code::Internal, "the schedule was created but cannot be read back");
}

Reply deletePurgeSchedule(Call& c) {
  int64_t id = 0;
  auto [end, ec] = std::from_chars(c.name.data(), c.name.data() + c.name.size(), id);
  bool deleted = false;
  if (ec == std::errc() && end == c.name.data() + c.name.size()) {
    auto r = c.deps.meta.deletePurgeSchedule(c.registryId(), id);
    if (!r) return r.takeError();
    deleted = *r;
  }
  if (!deleted) return error(Code::NotFound, "purge schedule " + c.name + " not found");
  return http::Response::empty(204);
}

Reply showPolicies(Call& c) {
  auto policies = c.deps.meta.policies(c.registryId());
  if (!policies) return policies.takeError();
  return jsonReply(200, policiesJson(*policies));
}

Reply updatePolicies(Call& c) {
  for (const auto& member : c.body) {
    if (member.key() != "retentionPolicy" && member.key() != "softDeletePolicy") {
      return error(Code::InvalidArgument, "unknown field \"" + std::string(member.key()) + "\"");
    }
  }
  auto policies = c.deps.meta.policies(c.registryId());
  if (!policies) return policies.takeError();
  if (auto r = readPolicy(c.body, "retentionPolicy", policies->retention); !r) return r.takeError();
  if (auto r = readPolicy(c.body, "softDeletePolicy", policies->softDelete); !r) {
    return r.takeError();
  }
  if (auto r = c.deps.meta.setPolicies(c.registryId(), *policies); !r) return r.takeError();
  return jsonReply(200, policiesJson(*policies));
}

Reply tagHistory(Call& c) {
  size_t limit = 100;
  if (auto n = c.param("n")) {
    auto [end, ec] = std::from_chars(n->data(), n->data() + n->size(), limit);
    if (ec != std::errc() || end != n->data() + n->size() || limit == 0 || limit > 1000) {
      return error(Code::InvalidArgument, "n must be a number from 1 to 1000");
    }
  }
  int64_t before = 0;
  if (auto last = c.param("last")) {
    auto [end, ec] = std::from_chars(last->data(), last->data() + last->size(), before);
    if (ec != std::errc() || end != last->data() + last->size() || before <= 0) {
      return error(Code::InvalidArgument, "last must be the id of an entry");
    }
  }
  auto events = c.deps.meta.tagHistory(c.registryId(), c.repository, c.tag, before, limit + 1);
  if (!events) return events.takeError();
  const bool more = events->size() > limit;
  if (more) events->pop_back();
  json::array out;
  for (const auto& e : *events) {
    out.push_back(json::object{{"id", std::to_string(e.id)},
                               {"action", e.action},
                               {"fromDigest", stringOrNull(e.oldDigest)},
                               {"toDigest", stringOrNull(e.newDigest)},
                               {"identity", e.identity},
                               {"source", stringOrNull(e.source)},
                               {"time", rfc3339(e.time)}});
  }
  json::object body{{"registry", c.deps.host.loginServer(c.settings().name)},
                    {"imageName", c.repository},
                    {"tag", c.tag},
                    {"history", std::move(out)}};
  auto reply = jsonReply(200, body);
  if (more) {
    // The next page, as the data plane's tag listing links it.
    reply.headers.add("Link", "<" + std::string("/api/v1/registries/") + c.settings().name +
                                  "/repositories/" + c.repository + "/_tags/" + c.tag +
                                  "/history?n=" + std::to_string(limit) +
                                  "&last=" + std::to_string(events->back().id) + ">; rel=\"next\"");
  }
  return reply;
}

Reply rollbackTag(Call& c) {
  BodyFields f(c.body);
  auto to = f.string("to");
  auto steps = f.unsignedInteger("steps");
  if (auto done = f.finish(); !done) return done.takeError();
  if (to && steps) return error(Code::InvalidArgument, "give to or steps, not both");
  auto repository = repositoryId(c);
  if (!repository) return repository.takeError();
  // What the tag pointed at, newest first, without repeats.
  auto events = c.deps.meta.tagHistory(c.registryId(), c.repository, c.tag, 0, 1000);
  if (!events) return events.takeError();
  std::vector<const meta::TagEvent*> states;
  for (const auto& e : *events) {
    if (e.newDigest.empty()) continue;
    if (states.empty() || states.back()->newDigest != e.newDigest) states.push_back(&e);
  }
  auto current = c.deps.meta.resolveTag(*repository, c.tag);
  if (!current) return current.takeError();
  const meta::TagEvent* target = nullptr;
  if (to) {
    for (const auto* s : states) {
      if (s->newDigest == *to && (!*current || **current != *to)) {
        target = s;
        break;
      }
    }
    if (!target) {
      return error(Code::InvalidArgument,
                   "tag " + c.tag + " never pointed at " + *to + " (or points there now)");
    }
  } else {
    const size_t n = steps.value_or(1);
    if (n == 0) return error(Code::InvalidArgument, "steps must be at least 1");
    // One step back from where the tag points now; from a deleted tag, to where it last did.
    const size_t skip = *current && !states.empty() && states[0]->newDigest == **current ? 1 : 0;
    if (skip + n > states.size()) {
      return error(Code::InvalidArgument, "tag " + c.tag + " has no state " + std::to_string(n) +
                                              " step(s) back in its history");
    }
    target = states[skip + n - 1];
  }
  auto moved = c.deps.meta.pointTag(*repository, c.tag, target->newDigest, "restored", c.actor());
  if (!moved) return moved.takeError();
  if (!*moved) {
    return error(Code::Conflict, "cannot roll " + c.tag + " back to " + target->newDigest +
                                     ": that manifest was deleted after " + rfc3339(target->time) +
                                     " and its content may be collected; push it again");
  }
  c.deps.host.forget(c.registryId());
  log::info("tag rolled back", {{"registry", c.settings().name},
                                {"repository", c.repository},
                                {"tag", c.tag},
                                {"digest", target->newDigest},
                                {"request_id", c.requestId}});
  return jsonReply(200, json::object{{"tag", c.tag}, {"digest", target->newDigest}});
}

Reply listDeletedRepositories(Call& c) {
  auto repositories = c.deps.meta.repositoriesWithDeleted(c.registryId());
  if (!repositories) return repositories.takeError();
  json::array out;
  for (const auto& [name, count] : *repositories) {
    out.push_back(json::object{{"name", name}, {"deletedManifests", count}});
  }
  return jsonReply(200, out);
}

Reply listDeletedManifests(Call& c) {
  auto repository = repositoryId(c);
  if (!repository) return repository.takeError();
  auto deleted = c.deps.meta.deletedManifests(*repository);
  if (!deleted) return deleted.takeError();
  auto policies = c.deps.meta.policies(c.registryId());
  if (!policies) return policies.takeError();
  json::array out;
  for (const auto& d : *deleted) {
    json::array tags;
    for (const auto& t : d.tags) tags.emplace_back(t);
    out.push_back(json::object{
        {"digest", d.digest},
        {"mediaType", d.mediaType},
        {"artifactType", stringOrNull(d.artifactType)},
        {"imageSize", d.size},
        {"tags", std::move(tags)},
        {"createdTime", rfc3339(d.created)},
        {"deletedTime", rfc3339(d.deleted)},
        {"deletedBy", d.deletedBy},
        {"purgeTime", rfc3339(d.deleted + int64_t{policies->softDelete.days} * 86400)}});
  }
  return jsonReply(200, json::object{{"registry", c.deps.host.loginServer(c.settings().name)},
                                     {"imageName", c.repository},
                                     {"manifests", std::move(out)}});
}

Reply restoreManifest(Call& c) {
  BodyFields f(c.body);
  auto tag = f.string("tag");
  if (auto done = f.finish(); !done) return done.takeError();
  if (tag && !isValidTag(*tag)) return error(Code::InvalidArgument, "invalid tag \"" + *tag + "\"");
  auto repository = repositoryId(c);
  if (!repository) return repository.takeError();
  std::vector<std::string> tags;
  if (tag) tags.push_back(*tag);
  auto restored = c.deps.meta.restoreManifest(*repository, c.digest, tags, c.actor());
  if (!restored) return restored.takeError();
  if (!*restored) {
    return error(Code::NotFound, "no deleted manifest " + c.digest + " in " + c.repository +
                                     " (never deleted, already restored, or purged)");
  }
  c.deps.host.forget(c.registryId());
  log::info("manifest restored", {{"registry", c.settings().name},
                                  {"repository", c.repository},
                                  {"digest", c.digest},
                                  {"request_id", c.requestId}});
  auto info = c.deps.meta.manifestInfo(*repository, c.digest);
  if (!info) return info.takeError();
  json::array now;
  if (*info) {
    for (const auto& t : (*info)->tags) now.emplace_back(t);
  }
  return jsonReply(200, json::object{{"digest", c.digest}, {"tags", std::move(now)}});
}

}  // namespace berth::control
