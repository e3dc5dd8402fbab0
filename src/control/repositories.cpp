// Repositories: /api/v1/registries/{registry}/repositories[/{repository}]. List (paged in name
// order, or the first n by time; filtered by what a token may read), show, change attributes,
// delete.
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <limits>

#include "control/errors.hpp"
#include "control/handlers.hpp"
#include "control/json.hpp"
#include "core/log.hpp"

namespace berth::control {
namespace json = boost::json;
namespace {

constexpr size_t kDefaultPage = 100;

Result<size_t> pageSize(const Call& c) {
  const auto n = c.param("n");
  if (!n) return kDefaultPage;
  size_t value = 0;
  auto [ptr, ec] = std::from_chars(n->data(), n->data() + n->size(), value);
  if (n->empty() || ec != std::errc() || ptr != n->data() + n->size() || value == 0) {
    return error(Code::InvalidArgument, "n must be a positive integer");
  }
  return std::min(value, kMaxPage);
}

json::object repositoryJson(Call& c, const meta::RepositoryInfo& r) {
  return {{"registry", c.deps.host.loginServer(c.settings().name)},
          {"imageName", r.name},
          {"createdTime", rfc3339(r.created)},
          {"lastUpdateTime", rfc3339(r.updated)},
          {"manifestCount", r.manifestCount},
          {"tagCount", r.tagCount},
          {"changeableAttributes", attributesJson(r.attributes, true)}};
}

// Whether the caller may see the repository in a list (a token or a principal needs
// metadata/read on it) and its name holds the ?q= asked for.
bool listable(const Call& c, std::string_view name) {
  if (!containsFolded(name, c.param("q").value_or(""))) return false;
  return !c.caller.limited() || (c.caller.permissions.actionsOn(name) & auth::kMetadataRead) != 0;
}

// `text` for a query string: unreserved characters as they are, every other byte as %XX.
std::string percentEncoded(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto b = static_cast<unsigned char>(ch);
    if (std::isalnum(b) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
  }
  return out;
}

// Whether some names of a page may be left out, so that pages are read in batches.
bool filtered(const Call& c) { return c.caller.limited() || !c.param("q").value_or("").empty(); }

// ?orderby=time_desc|time_asc: the first n names by lastUpdateTime (name order among equal
// times), in one reply without a Link header.
Reply listByTime(Call& c, size_t n) {
  auto order = orderOf(c, false);
  if (!order) return order.takeError();
  if (c.param("last")) {
    return error(Code::InvalidArgument, "last pages the name order; it does not go with orderby");
  }
  // A token or a search reads every listed repository and keeps the first n it may show.
  const size_t limit = filtered(c) ? std::numeric_limits<size_t>::max() : n;
  auto infos = c.deps.meta.repositoriesByTime(c.registryId(), *order == Order::TimeDesc, limit);
  if (!infos) return infos.takeError();
  json::array out;
  for (const auto& info : *infos) {
    if (out.size() == n) break;
    if (listable(c, info.name)) out.emplace_back(info.name);
  }
  return jsonReply(200, out);
}

Reply show(Call& c) {
  auto info = c.deps.meta.repository(c.registryId(), c.repository);
  if (!info) return info.takeError();
  if (!*info) return error(Code::NotFound, "repository " + c.repository + " not found");
  return jsonReply(200, repositoryJson(c, **info));
}

}  // namespace

json::object attributesJson(const meta::Attributes& a, bool repository) {
  json::object out{{"deleteEnabled", a.deleteEnabled}, {"writeEnabled", a.writeEnabled}};
  if (repository) {
    out["readEnabled"] = a.readEnabled;
    out["listEnabled"] = a.listEnabled;
  }
  return out;
}

Result<meta::AttributeChange> attributeChange(const json::object& body, bool repository) {
  BodyFields f(body);
  meta::AttributeChange change;
  change.deleteEnabled = f.boolean("deleteEnabled");
  change.writeEnabled = f.boolean("writeEnabled");
  if (repository) {
    change.readEnabled = f.boolean("readEnabled");
    change.listEnabled = f.boolean("listEnabled");
  }
  if (auto r = f.finish(); !r) return r.takeError();
  return change;
}

Result<meta::RepositoryId> repositoryId(Call& c) {
  auto id = c.deps.meta.findRepository(c.registryId(), c.repository);
  if (!id) return id.takeError();
  if (!*id) return error(Code::NotFound, "repository " + c.repository + " not found");
  return **id;
}

Reply listRepositories(Call& c) {
  auto n = pageSize(c);
  if (!n) return n.takeError();
  if (c.param("orderby")) return listByTime(c, *n);
  std::string last(c.param("last").value_or(""));
  std::vector<std::string> names;
  bool more = false;
  if (!filtered(c)) {
    auto page = c.deps.meta.listRepositories(c.registryId(), last, *n);
    if (!page) return page.takeError();
    names = std::move(page->items);
    more = page->more;
  } else {
    // A token sees the repositories whose metadata it may read, a search those it names: read
    // batches until the page is full and one more such name shows that another page follows.
    for (;;) {
      auto batch = c.deps.meta.listRepositories(c.registryId(), last, kMaxPage);
      if (!batch) return batch.takeError();
      for (const auto& name : batch->items) {
        if (!listable(c, name)) continue;
        if (names.size() == *n) {
          more = true;
          break;
        }
        names.push_back(name);
      }
      if (more || !batch->more || batch->items.empty()) break;
      last = batch->items.back();
    }
  }
  json::array out;
  for (const auto& name : names) out.emplace_back(name);
  auto resp = jsonReply(200, out);
  if (more && !names.empty()) {
    std::string link = "</api/v1/registries/";
    link.append(c.settings().name).append("/repositories?last=").append(names.back());
    link.append("&n=").append(std::to_string(*n));
    if (const auto q = c.param("q"); q && !q->empty()) {
      link.append("&q=").append(percentEncoded(*q));
    }
    link.append(">; rel=\"next\"");
    resp.headers.add("Link", std::move(link));
  }
  return resp;
}

Reply showRepository(Call& c) { return show(c); }

Reply updateRepository(Call& c) {
  auto change = attributeChange(c.body, true);
  if (!change) return change.takeError();
  auto id = repositoryId(c);
  if (!id) return id.takeError();
  auto updated = c.deps.meta.updateRepository(*id, *change);
  if (!updated) return updated.takeError();
  if (!*updated) return error(Code::NotFound, "repository " + c.repository + " not found");
  c.deps.host.forget(c.registryId());
  return show(c);
}

Reply deleteRepository(Call& c) {
  auto id = repositoryId(c);
  if (!id) return id.takeError();
  auto deleted = c.deps.meta.deleteRepository(*id, c.actor());
  if (!deleted) return deleted.takeError();
  c.deps.host.forget(c.registryId());
  log::info(
      "repository deleted",
      {{"registry", c.settings().name}, {"repository", c.repository}, {"request_id", c.requestId}});
  json::array manifests, tags;
  for (const auto& d : deleted->manifests) manifests.emplace_back(d);
  for (const auto& t : deleted->tags) tags.emplace_back(t);
  return jsonReply(200, json::object{{"manifestsDeleted", std::move(manifests)},
                                     {"tagsDeleted", std::move(tags)}});
}

}  // namespace berth::control
