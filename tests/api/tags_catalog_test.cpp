// GET /v2/<name>/tags/list and GET /v2/_catalog with n / last paging and Link headers.
#include <algorithm>
#include <set>

#include "harness.hpp"

namespace berth_test {
namespace {

class TagsCatalogTest : public RegistryTest {
 protected:
  struct Page {
    Response resp;
    std::vector<std::string> items;
    std::optional<LinkHeader> next;
  };

  // GETs `target`, expects 200 + JSON with string array `field`.
  Page fetch(const std::string& target, const char* field) {
    Page p{http().get(target), {}, std::nullopt};
    EXPECT_EQ(p.resp.status, 200) << p.resp;
    if (p.resp.status != 200) throw HelperFailure("list request failed");
    EXPECT_TRUE(HasContentType(p.resp, "application/json"));
    auto doc = json::parse(p.resp.body);
    if (!doc) {
      ADD_FAILURE() << "list body is not JSON\n" << p.resp;
      throw HelperFailure("bad list body");
    }
    auto items = doc->getStringArray(field);
    if (!items) {
      ADD_FAILURE() << "list body has no string array '" << field << "'\n" << p.resp;
      throw HelperFailure("bad list body");
    }
    p.items = *items;
    if (auto link = p.resp.header("Link")) {
      p.next = parseLink(*link);
      EXPECT_TRUE(p.next.has_value()) << "unparseable Link header: " << *link;
    }
    return p;
  }

  Page tags(const std::string& name, const std::string& query = "") {
    Page p = fetch("/v2/" + name + "/tags/list" + query, "tags");
    auto doc = json::parse(p.resp.body);
    EXPECT_EQ(doc->getString("name").value_or("<missing>"), name) << p.resp;
    return p;
  }

  // Link must be `</v2/...path?last=<last>&n=<n>>; rel="next"` (absolute URL tolerated,
  // parameter order not significant).
  static ::testing::AssertionResult IsNextLink(const Page& p, const std::string& path,
                                               const std::string& last, const std::string& n) {
    if (!p.next) return ::testing::AssertionFailure() << "no Link header\n" << p.resp;
    if (p.next->rel != "next")
      return ::testing::AssertionFailure() << "Link rel is '" << p.next->rel << "'\n" << p.resp;
    if (pathOnly(p.next->url) != path)
      return ::testing::AssertionFailure()
             << "Link path '" << pathOnly(p.next->url) << "' != " << path << "\n"
             << p.resp;
    if (queryParam(p.next->url, "last") != last)
      return ::testing::AssertionFailure() << "Link last != " << last << "\n" << p.resp;
    if (queryParam(p.next->url, "n") != n)
      return ::testing::AssertionFailure() << "Link n != " << n << "\n" << p.resp;
    return ::testing::AssertionSuccess();
  }

  void pushTags(const std::string& name, const std::vector<std::string>& tagList) {
    std::string body;
    for (const auto& t : tagList) {
      if (body.empty()) {
        pushRandomImage(name, t);
        Response g = getManifest(name, t);
        ASSERT_EQ(g.status, 200) << g;
        body = g.body;
      } else {
        pushManifest(name, t, mt::kOciManifest, body);
      }
    }
  }
};

using Strings = std::vector<std::string>;

// ---------------------------------------------------------------- tags

TEST_F(TagsCatalogTest, TagsListIsLexicallyOrdered) {
  const std::string name = repo("tags/order");
  // Pushed out of order; byte-wise lexical order puts digits < uppercase < '_' < lowercase.
  pushTags(name, {"d", "b", "a-b", "B", "_x", "a.b", "c", "1", "a"});
  Page p = tags(name);
  EXPECT_EQ(p.items, (Strings{"1", "B", "_x", "a", "a-b", "a.b", "b", "c", "d"})) << p.resp;
  EXPECT_FALSE(p.resp.hasHeader("Link")) << p.resp;
}

TEST_F(TagsCatalogTest, TagsListPaging) {
  const std::string name = repo("tags/paging");
  pushTags(name, {"c", "a", "d", "b"});
  const std::string path = "/v2/" + name + "/tags/list";

  Page p1 = tags(name, "?n=2");
  EXPECT_EQ(p1.items, (Strings{"a", "b"}));
  ASSERT_TRUE(IsNextLink(p1, path, "b", "2"));

  Page p2 = fetch(stripOrigin(p1.next->url), "tags");  // follow the Link
  EXPECT_EQ(p2.items, (Strings{"c", "d"}));
  EXPECT_FALSE(p2.resp.hasHeader("Link")) << "no more tags after d\n" << p2.resp;

  Page p3 = tags(name, "?n=2&last=b");
  EXPECT_EQ(p3.items, (Strings{"c", "d"}));
  EXPECT_FALSE(p3.resp.hasHeader("Link")) << p3.resp;

  Page p4 = tags(name, "?n=3");
  EXPECT_EQ(p4.items, (Strings{"a", "b", "c"}));
  EXPECT_TRUE(IsNextLink(p4, path, "c", "3"));

  Page p5 = tags(name, "?n=1&last=a");
  EXPECT_EQ(p5.items, (Strings{"b"}));
  EXPECT_TRUE(IsNextLink(p5, path, "b", "1"));

  Page p6 = tags(name, "?n=4");
  EXPECT_EQ(p6.items, (Strings{"a", "b", "c", "d"}));
  EXPECT_FALSE(p6.resp.hasHeader("Link")) << p6.resp;

  Page p7 = tags(name, "?n=100");
  EXPECT_EQ(p7.items, (Strings{"a", "b", "c", "d"}));
  EXPECT_FALSE(p7.resp.hasHeader("Link")) << p7.resp;
}

TEST_F(TagsCatalogTest, TagsListLastWithoutN) {
  const std::string name = repo("tags/last-only");
  pushTags(name, {"a", "b", "c", "d"});
  Page p = tags(name, "?last=b");
  EXPECT_EQ(p.items, (Strings{"c", "d"}));
  Page end = tags(name, "?last=d");
  EXPECT_TRUE(end.items.empty()) << end.resp;
  // `last` need not be an existing tag: it is a lexical bound.
  Page between = tags(name, "?last=bb");
  EXPECT_EQ(between.items, (Strings{"c", "d"}));
}

TEST_F(TagsCatalogTest, TagsListNZeroReturnsEmptyList) {
  const std::string name = repo("tags/n-zero");
  pushTags(name, {"a", "b"});
  Page p = tags(name, "?n=0");
  EXPECT_TRUE(p.items.empty()) << p.resp;
  EXPECT_EQ(stripSpaces(p.resp.body).find("\"tags\":[]") != std::string::npos, true) << p.resp;
}

TEST_F(TagsCatalogTest, TagsListInvalidNReturns400) {
  const std::string name = repo("tags/bad-n");
  pushTags(name, {"a"});
  for (const char* q : {"?n=abc", "?n=-1", "?n=1x"}) {
    SCOPED_TRACE(q);
    EXPECT_REGISTRY_ERROR(http().get("/v2/" + name + "/tags/list" + q), 400, "UNSUPPORTED");
  }
}

TEST_F(TagsCatalogTest, TagsListUnknownRepositoryReturns404NameUnknown) {
  EXPECT_REGISTRY_ERROR(http().get("/v2/" + repo("tags/never-pushed") + "/tags/list"), 404,
                        "NAME_UNKNOWN");
}

TEST_F(TagsCatalogTest, TagsListReflectsTagDeletion) {
  const std::string name = repo("tags/deleted");
  pushTags(name, {"a", "b", "c"});
  ASSERT_EQ(http().del("/v2/" + name + "/manifests/b").status, 202);
  Page p = tags(name);
  EXPECT_EQ(p.items, (Strings{"a", "c"}));
}

TEST_F(TagsCatalogTest, UntaggedManifestsAreNotListed) {
  const std::string name = repo("tags/untagged");
  pushRandomImage(name, "");  // by digest
  pushRandomImage(name, "only");
  Page p = tags(name);
  EXPECT_EQ(p.items, (Strings{"only"}));
}

// ---------------------------------------------------------------- catalog

TEST_F(TagsCatalogTest, CatalogPaging) {
  // Names below a prefix unique to this process; `last` = the first of them
  // so the assertions do not depend on what else is in the registry.
  const std::string base = repo("catalog/r");
  const std::string r0 = base + "0", ra = base + "a", rb = base + "b", rc = base + "c";
  for (const auto& r : {rc, r0, ra, rb}) pushRandomImage(r, "t");

  Page p1 = fetch("/v2/_catalog?n=2&last=" + r0, "repositories");
  EXPECT_EQ(p1.items, (Strings{ra, rb}));
  ASSERT_TRUE(IsNextLink(p1, "/v2/_catalog", rb, "2"));

  Page p2 = fetch(stripOrigin(p1.next->url), "repositories");
  ASSERT_FALSE(p2.items.empty()) << p2.resp;
  EXPECT_EQ(p2.items.front(), rc);
  if (p2.items.size() == 2) {
    EXPECT_GT(p2.items[1], rc);
  }

  Page p3 = fetch("/v2/_catalog?n=1&last=" + ra, "repositories");
  EXPECT_EQ(p3.items, (Strings{rb}));
  EXPECT_TRUE(IsNextLink(p3, "/v2/_catalog", rb, "1"));
}

TEST_F(TagsCatalogTest, CatalogIsLexicallyOrderedAndComplete) {
  const std::string base = repo("catalog/full");
  const Strings mine = {base + "/b", base + "/a", base + "-x", base + "/a/deeper", base + "/c"};
  for (const auto& r : mine) pushRandomImage(r, "t");

  // Walk every page (whatever the server's default page size is).
  Strings all;
  std::string target = "/v2/_catalog";
  for (int pages = 0; pages < 10000; ++pages) {
    Page p = fetch(target, "repositories");
    all.insert(all.end(), p.items.begin(), p.items.end());
    if (!p.next) break;
    target = stripOrigin(p.next->url);
  }
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), all.size())
      << "duplicates in catalog";
  for (const auto& r : mine) {
    EXPECT_NE(std::find(all.begin(), all.end(), r), all.end()) << r << " missing from catalog";
  }
  // Relative order of my names.
  Strings ordered;
  for (const auto& r : all)
    if (std::find(mine.begin(), mine.end(), r) != mine.end()) ordered.push_back(r);
  EXPECT_EQ(ordered,
            (Strings{base + "-x", base + "/a", base + "/a/deeper", base + "/b", base + "/c"}));
}

TEST_F(TagsCatalogTest, CatalogNZeroReturnsEmptyList) {
  pushRandomImage(repo("catalog/nzero"), "t");
  Page p = fetch("/v2/_catalog?n=0", "repositories");
  EXPECT_TRUE(p.items.empty()) << p.resp;
}

TEST_F(TagsCatalogTest, CatalogInvalidNReturns400) {
  for (const char* q : {"?n=abc", "?n=-1", "?n=2x"}) {
    SCOPED_TRACE(q);
    EXPECT_REGISTRY_ERROR(http().get(std::string("/v2/_catalog") + q), 400, "UNSUPPORTED");
  }
}

}  // namespace
}  // namespace berth_test
