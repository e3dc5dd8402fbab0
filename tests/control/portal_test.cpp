// The portal's files as the server hands them out (src/portal): at / and /portal/<file> on the
// management host only, with a strict Content-Security-Policy, gzip when asked for, ETags and
// 304, GET and HEAD only; and not at all with `portal: false`. What the pages do is the
// browser test's (tests/portal).
#include "control_support.hpp"

namespace berth_test::control {
namespace {

using PortalTest = ControlTest;

TEST_F(PortalTest, ThePageIsServedWithAStrictPolicy) {
  Response r = api().get("/", {noAuth()});
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(r.headerOr("Content-Type"), "text/html; charset=utf-8");
  const std::string csp = r.headerOr("Content-Security-Policy");
  for (const char* directive :
       {"default-src 'none'", "script-src 'self';", "style-src 'self';", "connect-src 'self'",
        "frame-ancestors 'none'", "base-uri 'none'"}) {
    EXPECT_NE(csp.find(directive), std::string::npos) << directive << " missing: " << csp;
  }
  EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
  EXPECT_EQ(r.headerOr("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(r.headerOr("X-Frame-Options"), "DENY");
  EXPECT_NE(r.body.find("/portal/portal.js"), std::string::npos);
  EXPECT_EQ(r.body.find("http"), std::string::npos) << "the page names another origin";
  EXPECT_EQ(api().get("/index.html", {noAuth()}).body, r.body);
}

TEST_F(PortalTest, FilesComeGzippedWithETagsAndAnswer304) {
  Response plain = api().get("/portal/portal.js", {noAuth(), {"Accept-Encoding", "identity"}});
  ASSERT_EQ(plain.status, 200) << plain;
  EXPECT_EQ(plain.headerOr("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_FALSE(plain.hasHeader("Content-Encoding"));
  EXPECT_NE(plain.body.find("/api/v1/session"), std::string::npos);
  Response zipped = api().get("/portal/portal.js", {noAuth(), {"Accept-Encoding", "gzip, br"}});
  ASSERT_EQ(zipped.status, 200);
  EXPECT_EQ(zipped.headerOr("Content-Encoding"), "gzip");
  EXPECT_LT(zipped.body.size(), plain.body.size() / 2);
  EXPECT_EQ(zipped.body.substr(0, 2), std::string("\x1f\x8b", 2));
  EXPECT_EQ(zipped.headerOr("Vary"), "Accept-Encoding");
  const std::string etag = plain.headerOr("ETag");
  ASSERT_EQ(etag.front(), '"');
  Response cached = api().get("/portal/portal.js", {noAuth(), {"If-None-Match", etag}});
  EXPECT_EQ(cached.status, 304);
  EXPECT_TRUE(cached.body.empty());
  Response head = api().head("/portal/portal.css", {noAuth(), {"Accept-Encoding", "identity"}});
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headerOr("Content-Type"), "text/css; charset=utf-8");
  EXPECT_EQ(head.headerOr("Content-Length"),
            std::to_string(api().get("/portal/portal.css", {noAuth()}).body.size()));
  EXPECT_EQ(api().get("/portal/favicon.svg", {noAuth()}).headerOr("Content-Type"), "image/svg+xml");
}

TEST_F(PortalTest, UnknownFilesOtherMethodsAndLoginServersAreRefused) {
  for (const char* path : {"/portal/nothing.js", "/portal/", "/portal/a/portal.js",
                           "/portal/..%2Fberth.db", "/portal/%2e%2e/operator-token"}) {
    Response r = api().get(path, {noAuth()});
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.body.find(operatorToken()), std::string::npos) << path;
  }
  Response post = api().post("/", "x", {noAuth()});
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.headerOr("Allow"), "GET, HEAD");
  // A registry's login server is the registry's alone.
  const std::string name = uniqueRegistryName();
  createRegistry(name);
  Response atRegistry = api().get("/", {noAuth(), {"Host", registryHost(name)}});
  EXPECT_EQ(atRegistry.status, 404);
  EXPECT_FALSE(atRegistry.hasHeader("Content-Security-Policy"));
}

class PortalOffTest : public ConfiguredRegistryTest {
 protected:
  PortalOffTest() : ConfiguredRegistryTest(R"({"portal": false})") {}
};

TEST_F(PortalOffTest, TurnedOffThereIsNoPortal) {
  EXPECT_EQ(api().get("/", {noAuth()}).status, 404);
  EXPECT_EQ(api().get("/portal/portal.js", {noAuth()}).status, 404);
  EXPECT_EQ(api().get("/api/v1/registries").status, 200);
}

}  // namespace
}  // namespace berth_test::control
