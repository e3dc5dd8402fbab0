// GET /v2/<name>/tags/list and GET /v2/_catalog, paged with n= and last= and a Link header.
#include <boost/json.hpp>
#include <limits>

#include "registry/handlers.hpp"

namespace berth::registry {
namespace {

using http::Dispatch;

// Without n= the whole list is returned, as the specification asks.
constexpr size_t kUnbounded = static_cast<size_t>(std::numeric_limits<int64_t>::max() - 1);

http::Response page(std::string_view key, const meta::Page& result, std::string_view linkPath,
                    std::optional<size_t> n, boost::json::object body) {
  boost::json::array items;
  items.reserve(result.items.size());
  for (const auto& item : result.items) items.emplace_back(item);
  body[key] = std::move(items);
  auto resp = http::Response::json(200, boost::json::serialize(body));
  if (result.more && n && !result.items.empty()) {
    std::string link = "<";
    link.append(linkPath).append("?last=").append(result.items.back());
    link.append("&n=").append(std::to_string(*n)).append(">; rel=\"next\"");
    resp.headers.add("Link", std::move(link));
  }
  return resp;
}

}  // namespace

Dispatch handleTags(Services& s, http::Request& req, Target& t) {
  auto n = pageSize(req);
  if (!n) return replyError(n.error());
  auto repository = findRepository(s, t.ctx.registry, t.name);
  if (!repository) return replyError(repository.error());
  if (!*repository) return fail(ApiCode::NameUnknown, t.name);
  const auto last = req.param("last").value_or("");
  auto tags = s.meta.listTags(**repository, last, n->value_or(kUnbounded));
  if (!tags) return replyError(tags.error());
  boost::json::object body{{"name", t.name}};
  return Dispatch::reply(page("tags", *tags, "/v2/" + t.name + "/tags/list", *n, std::move(body)));
}

Dispatch handleCatalog(Services& s, http::Request& req, const RequestContext& ctx) {
  auto n = pageSize(req);
  if (!n) return replyError(n.error());
  const size_t want = n->value_or(kUnbounded);
  std::string last(req.param("last").value_or(""));
  // Only repositories the caller may read are listed: read batches until the page is full.
  constexpr size_t kBatch = 1000;
  meta::Page result;
  for (;;) {
    auto batch = s.meta.listRepositories(ctx.registry, last, kBatch);
    if (!batch) return replyError(batch.error());
    for (auto& name : batch->items) {
      if (!s.authorizer.allowed(ctx, name, Action::ListTags)) continue;
      if (result.items.size() == want) {
        result.more = true;
        break;
      }
      result.items.push_back(std::move(name));
    }
    if (result.more || !batch->more || batch->items.empty()) break;
    last = batch->items.back();
  }
  return Dispatch::reply(page("repositories", result, "/v2/_catalog", *n, {}));
}

}  // namespace berth::registry
