// The portal in a real browser (Debian's chromium, headless, driven by playwright-core) against
// a real berth, with skopeo as the client that pushes and pulls: sign in, create a registry,
// push to it, see the repository and tag, open the manifest (layers, config, referrers), lock
// the tag and see a push refused, regenerate a password and log in with it, a token that sees
// one repository only, 10,000 tags paged, a phone's width, dark mode, axe-core's checks, and
// deleting the registry. Screenshots go to $BERTH_PORTAL_SCREENSHOTS (docs/portal/ in the
// repository) or a temporary directory.
//
// Run: BERTH_BIN=build/berth node --test tests/portal/portal.test.mjs
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Clients, basic, http, launchBrowser, makeImage, sha256, startBerth } from "./harness.mjs";

const DOMAIN = "portal.test";
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const shots = process.env.BERTH_PORTAL_SCREENSHOTS || mkdtempSync(join(tmpdir(), "berth-portal-shots-"));
mkdirSync(shots, { recursive: true });

let berth;
let browser;
let context;
let page;
let clients;
let work;
const reg = `portal${Math.random().toString(36).slice(2, 10)}`;
let host; // <reg>.portal.test:<port>
let adminPassword;
const foreign = []; // requests that left berth's origin
const problems = []; // CSP violations and errors thrown in the page
const measured = {};

async function shot(name) {
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

// axe-core's serious and critical findings on the page as it is now. (Evaluated through the
// DevTools protocol: the page's CSP forbids injected scripts, as it should.)
async function axeFindings(name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  return result.map((r) => `${name}: ${r}`);
}

// From the start page's address: signing in there shows the registries without a change of
// address.
async function signInAsOperator() {
  await page.goto(`${berth.url}/#/`);
  await page.getByRole("heading", { name: "Sign in to berth" }).waitFor();
  await page.getByRole("radio", { name: "Operator token" }).check();
  await page.getByLabel("Token", { exact: true }).fill(berth.operatorToken);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Registries" }).waitFor();
}

async function signOut() {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in to berth" }).waitFor();
}

// The value a "shown once" notice holds.
async function shownOnce(label) {
  const notice = page.locator(".notice", { hasText: label });
  await notice.waitFor();
  return (await notice.locator("code").textContent()).trim();
}

before(async () => {
  berth = await startBerth({ domain: DOMAIN });
  host = `${reg}.${DOMAIN}:${berth.port}`;
  work = mkdtempSync(join(tmpdir(), "berth-portal-work-"));
  clients = new Clients(work);
  clients.resolve(`${reg}.${DOMAIN}`);
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const origin = new URL(berth.url).origin;
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.protocol !== "data:" && u.origin !== origin) foreign.push(r.url());
  });
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
});

after(async () => {
  await browser?.close();
  await berth?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
  if (Object.keys(measured).length) console.log(`portal measurements: ${JSON.stringify(measured)}`);
});

test("the portal is served with a strict Content-Security-Policy, gzip and ETags", async () => {
  const index = await http(berth.url, { path: "/", headers: { "Accept-Encoding": "gzip" } });
  assert.equal(index.status, 200);
  const csp = index.headers["content-security-policy"];
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /connect-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(index.headers["x-content-type-options"], "nosniff");
  assert.equal(index.headers["content-encoding"], "gzip");
  const script = await http(berth.url, { path: "/portal/portal.js" });
  assert.equal(script.status, 200);
  assert.match(script.headers["content-type"], /^text\/javascript/);
  const again = await http(berth.url, { path: "/portal/portal.js", headers: { "If-None-Match": script.headers.etag } });
  assert.equal(again.status, 304);
  assert.equal((await http(berth.url, { path: "/portal/../berth.db" })).status, 404);
  assert.equal((await http(berth.url, { path: "/portal/nothing.js" })).status, 404);
  // A registry's login server serves the registry, not the portal.
  assert.equal((await http(berth.url, { path: "/", host: `default.${DOMAIN}:${berth.port}` })).status, 404);
});

test("signs in with the operator token, by keyboard alone", async () => {
  await page.goto(berth.url);
  await page.getByRole("heading", { name: "Sign in to berth" }).waitFor();
  await shot("sign-in");
  problems.push(...(await axeFindings("sign-in")));
  // Tab reaches the choice of credentials, arrow keys pick the operator token, Tab goes on to
  // its field.
  let guard = 0;
  while ((await page.evaluate(() => document.activeElement?.getAttribute("type"))) !== "radio") {
    await page.keyboard.press("Tab");
    assert.ok(guard++ < 20, "the choice of credentials is not reachable by Tab");
  }
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  assert.equal(await page.getByRole("radio", { name: "Operator token" }).isChecked(), true);
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "signin-token");
  await page.keyboard.type(berth.operatorToken);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Registries" }).waitFor();
  await page.getByRole("link", { name: "default" }).waitFor();
  assert.equal(await page.evaluate(() => document.cookie), "", "the session cookie is HttpOnly");
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
});

test("creates a registry, its name checked as it is typed", async () => {
  await page.getByRole("button", { name: "Create registry" }).click();
  const name = page.getByLabel("Name", { exact: true });
  await name.fill("No");
  await page.getByText(/lowercase letters and digits/, { exact: false }).nth(1).waitFor();
  await name.fill("default");
  await page.getByText(/already/i).waitFor();
  await name.fill(reg);
  await page.getByText(`${reg} is available`).waitFor();
  await page.getByLabel("Enable the admin account").check();
  await shot("create-registry");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await page.getByRole("heading", { name: reg }).waitFor();
  await page.getByText(`${reg}.${DOMAIN}:${berth.port}`).waitFor();
  await page.getByRole("link", { name: "Registries" }).click();
  const row = page.getByRole("row", { name: new RegExp(reg) });
  await row.waitFor();
  await row.getByRole("meter").waitFor();
  await shot("registries");
  problems.push(...(await axeFindings("registries")));
});

test("regenerates the admin password, and skopeo logs in with it", async () => {
  await page.getByRole("link", { name: reg }).click();
  await page.getByRole("link", { name: "Access" }).click();
  await page.getByRole("button", { name: "Regenerate password", exact: true }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Regenerate" }).click();
  adminPassword = await shownOnce("New password");
  assert.match(adminPassword, /^[A-Za-z0-9_-]{43}$/);
  await page.getByText(`docker login ${host} -u ${reg}`).first().waitFor();
  await shot("access");
  problems.push(...(await axeFindings("access")));
  const login = await clients.skopeo("login", "--tls-verify=false", "-u", reg, "-p", adminPassword, host);
  assert.equal(login.code, 0, login.out);
  const wrong = await clients.skopeo("login", "--tls-verify=false", "-u", reg, "-p", "wrong", host);
  assert.notEqual(wrong.code, 0, "a wrong password logs in");
});

test("a skopeo push appears as a repository and a tag", async () => {
  const layout = join(work, "layout");
  await makeImage(layout, "v1");
  await makeImage(layout, "tool");
  for (const [tag, target] of [["v1", "team/app:v1"], ["tool", "other/tool:v1"]]) {
    const push = await clients.skopeo("copy", "--dest-tls-verify=false", `oci:${layout}:${tag}`, `docker://${host}/${target}`);
    assert.equal(push.code, 0, push.out);
  }
  // A fresh load of the registry's page: the time to the first render of its repositories.
  await page.goto("about:blank");
  await page.goto(`${berth.url}/#/r/${reg}`);
  await page.getByRole("link", { name: "team/app" }).waitFor();
  await page.getByRole("link", { name: "other/tool" }).waitFor();
  measured.repositoryListFirstRenderMs = await page.evaluate(
    () => performance.getEntriesByName("berth:repositories-rendered")[0]?.startTime ?? -1,
  );
  assert.ok(measured.repositoryListFirstRenderMs > 0);
  await page.getByLabel("Filter repositories by name").fill("tool");
  await page.getByRole("link", { name: "team/app" }).waitFor({ state: "detached" });
  await page.getByRole("link", { name: "other/tool" }).waitFor();
  await page.getByLabel("Filter repositories by name").fill("");
  await page.getByRole("link", { name: "team/app" }).click();
  await page.getByRole("link", { name: "v1", exact: true }).waitFor();
  await shot("repository");
  problems.push(...(await axeFindings("repository")));
});

test("the manifest page shows digest, pull commands, layers, config and referrers", async () => {
  await page.getByRole("link", { name: "v1", exact: true }).click();
  await page.getByRole("heading", { name: "team/app:v1" }).waitFor();
  const inspect = await clients.skopeo("inspect", "--tls-verify=false", "--raw", `docker://${host}/team/app:v1`);
  assert.equal(inspect.code, 0, inspect.out);
  assert.equal(JSON.parse(inspect.out).layers.length, 1);
  await page.getByText(`docker pull ${host}/team/app:v1`).waitFor();
  await page.getByText(`podman pull ${host}/team/app:v1`).waitFor();
  await page.getByRole("heading", { name: /^Layers \(1/ }).waitFor();
  await page.getByText('["/app"]').waitFor();
  await page.getByText("MODE=v1").waitFor();
  await page.getByText("org.example.tier").waitFor();

  // A signature-like artifact that refers to the image, pushed over the data plane.
  const auth = { Authorization: basic(reg, adminPassword) };
  const put = async (path, body, type) =>
    http(berth.url, { method: "PUT", host, path, body, headers: { ...auth, "Content-Type": type } });
  const post = async (data) => {
    const r = await http(berth.url, {
      method: "POST", host, path: `/v2/team/app/blobs/uploads/?digest=${sha256(data)}`, body: data,
      headers: { ...auth, "Content-Type": "application/octet-stream" },
    });
    assert.equal(r.status, 201, r.body);
  };
  await post("{}");
  await post("signature bytes");
  const head = await http(berth.url, {
    method: "HEAD", host, path: "/v2/team/app/manifests/v1",
    headers: { ...auth, Accept: "application/vnd.oci.image.manifest.v1+json" },
  });
  const imageDigest = head.headers["docker-content-digest"];
  assert.ok(imageDigest, "the image's digest");
  const sig = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    artifactType: "application/vnd.example.signature+json",
    config: { mediaType: "application/vnd.oci.empty.v1+json", digest: sha256("{}"), size: 2 },
    layers: [{ mediaType: "application/octet-stream", digest: sha256("signature bytes"), size: 15 }],
    subject: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: imageDigest, size: Number(head.headers["content-length"]) },
  });
  const pushed = await put(`/v2/team/app/manifests/${sha256(sig)}`, sig, "application/vnd.oci.image.manifest.v1+json");
  assert.equal(pushed.status, 201, pushed.body);
  await page.reload();
  await page.getByText(imageDigest).first().waitFor();
  await page.getByText("application/vnd.example.signature+json").waitFor();
  await shot("manifest");
  problems.push(...(await axeFindings("manifest")));

  // An index: its platforms, a Windows one with its OS version, each linking to its manifest.
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: imageDigest, size: Number(head.headers["content-length"]),
        platform: { os: "windows", architecture: "amd64", "os.version": "10.0.20348.2113" } },
    ],
  });
  const indexPushed = await put("/v2/team/app/manifests/multi", index, "application/vnd.oci.image.index.v1+json");
  assert.equal(indexPushed.status, 201, indexPushed.body);
  await page.goto(`${berth.url}/#/r/${reg}/repo/team%2Fapp/tag/multi`);
  const platforms = page.getByRole("table", { name: "Platforms" });
  await platforms.getByRole("cell", { name: "10.0.20348.2113" }).waitFor();
  await platforms.getByRole("cell", { name: "windows" }).waitFor();
  await platforms.getByRole("link").click();
  await page.getByRole("heading", { name: /^team\/app@sha256:/ }).waitFor();
  await page.getByText("application/vnd.example.signature+json").waitFor();
  await page.goto(`${berth.url}/#/r/${reg}/repo/team%2Fapp/tag/v1`);
  await page.getByRole("heading", { name: "team/app:v1" }).waitFor();
});

test("a tag locked in the portal refuses a skopeo push", async () => {
  const lock = page.getByRole("switch", { name: "Tag v1: write (move)" });
  const answered = page.waitForResponse((r) => r.request().method() === "PATCH" && r.url().includes("/_tags/v1"));
  await lock.uncheck();
  assert.equal((await answered).status(), 200);
  const layout = join(work, "layout");
  await makeImage(layout, "v2");
  const refused = await clients.skopeo("copy", "--dest-tls-verify=false", `oci:${layout}:v2`, `docker://${host}/team/app:v1`);
  assert.notEqual(refused.code, 0, "a push to a locked tag succeeded");
  assert.match(refused.out, /locked|denied/i);
  await page.reload();
  assert.equal(await page.getByRole("switch", { name: "Tag v1: write (move)" }).isChecked(), false);
  const other = await clients.skopeo("copy", "--dest-tls-verify=false", `oci:${layout}:v2`, `docker://${host}/team/app:v2`);
  assert.equal(other.code, 0, other.out);
});

test("a token for one repository sees that repository and nothing else", async () => {
  await page.goto(`${berth.url}/#/r/${reg}/access`);
  await page.getByRole("button", { name: "Create scope map" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Name", { exact: true }).fill("app-read");
  await dialog.getByLabel("Repository pattern").fill("team/app");
  await dialog.getByLabel("content/read").check();
  await dialog.getByLabel("metadata/read").check();
  await dialog.getByRole("button", { name: "Create", exact: true }).click();
  await page.getByRole("cell", { name: "repositories/team/app/content/read" }).waitFor();
  await page.getByRole("button", { name: "Create token" }).click();
  await page.getByRole("dialog").getByLabel("Name", { exact: true }).fill("viewer");
  await page.getByRole("dialog").getByLabel("Scope map").selectOption("app-read");
  await page.getByRole("dialog").getByRole("button", { name: "Create", exact: true }).click();
  const tokenPassword = await shownOnce("viewer password1");
  await page.getByRole("switch", { name: "Token viewer enabled" }).waitFor();
  await signOut();
  // The ended session's cookie is refused.
  const after = await page.evaluate(async () => (await fetch("/api/v1/session", { headers: { "X-Berth-Request": "t" } })).status);
  assert.equal(after, 401);

  await page.getByRole("radio", { name: "Registry credentials" }).check();
  await page.getByLabel("Registry", { exact: true }).fill(reg);
  await page.getByLabel("User name").fill("viewer");
  await page.getByLabel("Password").fill(tokenPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "team/app" }).waitFor();
  await page.getByText("Signed in as").waitFor();
  assert.equal(await page.getByRole("link", { name: "other/tool" }).count(), 0, "a repository beyond the scope map");
  assert.equal(await page.getByRole("link", { name: "Access" }).count(), 0, "the Access tab offered to a token");
  assert.equal(await page.getByRole("link", { name: "Registries" }).count(), 0, "the registry list offered to a token");
  await shot("token-view");
  await page.getByRole("link", { name: "team/app" }).click();
  await page.getByRole("link", { name: "v1", exact: true }).waitFor();
  assert.equal(await page.getByRole("switch", { name: "Write (push)" }).isDisabled(), true);
  assert.equal(await page.getByRole("button", { name: "Delete repository" }).count(), 0);
  await page.getByRole("link", { name: "v1", exact: true }).click();
  await page.getByText(`docker pull ${host}/team/app:v1`).waitFor();
  assert.equal(await page.getByRole("button", { name: /^Delete/ }).count(), 0, "delete offered to a reader");
  // The other repository, asked for by its address, is refused by the server.
  await page.goto(`${berth.url}/#/r/${reg}/repo/other%2Ftool`);
  await page.getByRole("alert").filter({ hasText: /scope map/ }).first().waitFor();
  const pull = await clients.skopeo("inspect", "--tls-verify=false", "--creds", `viewer:${tokenPassword}`, `docker://${host}/team/app:v1`);
  assert.equal(pull.code, 0, pull.out);
  await signOut();
});

test("a user signs in with a password and sees what its roles allow", async () => {
  // Made through the control API: a user with AcrPull on team/* of the registry, and a second
  // registry it has no role in.
  const api = (method, path, body) =>
    http(berth.url, {
      method,
      path,
      headers: { Authorization: `Bearer ${berth.operatorToken}`, "Content-Type": "application/json" },
      body: body && JSON.stringify(body),
    });
  const elsewhere = `${reg}x`;
  assert.equal((await api("POST", "/api/v1/registries", { name: elsewhere })).status, 201);
  assert.equal((await api("POST", "/api/v1/users", { name: "dana", password: "dana-password-1" })).status, 201);
  const pull = await api("POST", "/api/v1/role-assignments", {
    assignee: "dana",
    role: "AcrPull",
    scope: `/registries/${reg}/repositories/team/*`,
  });
  assert.equal(pull.status, 201);

  await page.goto(`${berth.url}/#/`);
  await page.getByRole("heading", { name: "Sign in to berth" }).waitFor();
  assert.equal(await page.getByRole("radio", { name: "User" }).isChecked(), true, "users sign in by default");
  await page.getByLabel("User name").fill("dana");
  await page.getByLabel("Password").fill("wrong-password-1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("Wrong user name or password.").waitFor();
  await page.getByLabel("Password").fill("dana-password-1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Registries" }).waitFor();
  await page.getByRole("link", { name: reg, exact: true }).waitFor();
  await page.getByText("Signed in as").getByText("dana").waitFor();
  assert.equal(await page.getByRole("link", { name: elsewhere }).count(), 0, "a registry its roles do not reach");
  assert.equal(await page.getByRole("button", { name: "Create registry" }).count(), 0);
  await shot("user-registries");
  await page.getByRole("link", { name: reg, exact: true }).click();
  await page.getByRole("link", { name: "team/app" }).waitFor();
  for (const tab of ["Access", "Usage", "Settings"]) {
    assert.equal(await page.getByRole("link", { name: tab }).count(), 0, `the ${tab} tab offered to an AcrPull`);
  }
  assert.equal(await page.getByRole("link", { name: "other/tool" }).count(), 0, "a repository beyond team/*");
  await page.getByRole("link", { name: "team/app" }).click();
  await page.getByRole("link", { name: "v1", exact: true }).waitFor();
  assert.equal(await page.getByRole("switch", { name: "Write (push)" }).isDisabled(), true);
  assert.equal(await page.getByRole("button", { name: "Delete repository" }).count(), 0);

  // A Contributor of the registry: its settings, access and usage, and the tag's locks.
  const contributor = await api("POST", "/api/v1/role-assignments", {
    assignee: "dana",
    role: "Contributor",
    scope: `/registries/${reg}`,
  });
  assert.equal(contributor.status, 201);
  await page.reload();
  await page.getByRole("link", { name: "v1", exact: true }).waitFor();
  assert.equal(await page.getByRole("switch", { name: "Write (push)" }).isDisabled(), false);
  await page.getByRole("button", { name: "Delete repository" }).waitFor();
  await page.goto(`${berth.url}/#/r/${reg}`);
  for (const tab of ["Access", "Usage", "Settings"]) await page.getByRole("link", { name: tab }).waitFor();
  await page.getByRole("link", { name: "Usage" }).click();
  await page.getByRole("heading", { name: "Usage" }).waitFor();
  await signOut();
  assert.equal((await api("DELETE", "/api/v1/users/dana")).status, 204);
  assert.equal((await api("DELETE", `/api/v1/registries/${elsewhere}`)).status, 204);
});

test("a repository of 10,000 tags is paged and searched on the server", async () => {
  await signInAsOperator();
  const auth = { Authorization: basic(reg, adminPassword) };
  const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } });
  for (const data of [config, "one layer"]) {
    const r = await http(berth.url, {
      method: "POST", host, path: `/v2/big/tags/blobs/uploads/?digest=${sha256(data)}`, body: data,
      headers: { ...auth, "Content-Type": "application/octet-stream" },
    });
    assert.equal(r.status, 201, r.body);
  }
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256("one layer"), size: 9 }],
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < 10_000) {
        const tag = `t${String(next++).padStart(5, "0")}`;
        const r = await http(berth.url, {
          method: "PUT", host, path: `/v2/big/tags/manifests/${tag}`, body, agent,
          headers: { ...auth, "Content-Type": "application/vnd.oci.image.manifest.v1+json" },
        });
        assert.equal(r.status, 201, r.body);
      }
    }),
  );
  agent.destroy();
  measured.tenThousandTagsPushSeconds = (Date.now() - started) / 1000;

  const opened = Date.now();
  await page.goto(`${berth.url}/#/r/${reg}/repo/big%2Ftags`);
  await page.getByText("1–50 of 10000").waitFor();
  measured.tenThousandTagsFirstPageMs = Date.now() - opened;
  assert.equal(await page.getByRole("table", { name: "Tags" }).locator("tbody tr").count(), 50);
  await page.getByRole("button", { name: "Next" }).click();
  await page.getByText("51–100 of 10000").waitFor();
  await page.getByLabel("Order of tags").selectOption("name");
  await page.getByText("1–50 of 10000").waitFor();
  await page.getByRole("link", { name: "t00000", exact: true }).waitFor();
  await page.getByLabel("Filter tags").fill("t0999");
  await page.getByText("1–10 of 10").waitFor();
  assert.equal(await page.getByRole("table", { name: "Tags" }).locator("tbody tr").count(), 10);
});

test("works at a phone's width and in dark mode", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${berth.url}/#/r/${reg}/repo/team%2Fapp/tag/v1`);
  await page.getByRole("heading", { name: "team/app:v1" }).waitFor();
  await page.getByText(`docker pull ${host}/team/app:v1`).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone`);
  await shot("phone");
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.goto(`${berth.url}/#/r/${reg}`);
  await page.getByRole("link", { name: "team/app" }).waitFor();
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = background.match(/\d+/g).map(Number);
  assert.ok(r + g + b < 120, `dark mode's background is ${background}`);
  await shot("dark");
  problems.push(...(await axeFindings("dark")));
  await page.emulateMedia({ colorScheme: "light" });
  for (const tab of ["usage", "settings"]) {
    await page.goto(`${berth.url}/#/r/${reg}/${tab}`);
    await page.getByRole("heading", { name: tab === "usage" ? "Usage" : "Plan" }).waitFor();
    await page.locator(".loading").first().waitFor({ state: "detached" });
    await shot(tab);
    problems.push(...(await axeFindings(tab)));
  }
});

test("the skip link moves the focus, and a malformed address is a page not found", async () => {
  await page.goto(`${berth.url}/#/r/${reg}`);
  await page.getByRole("link", { name: "team/app" }).waitFor();
  await page.getByRole("link", { name: "Skip to content" }).focus();
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "main");
  assert.equal(await page.evaluate(() => location.hash), `#/r/${reg}`);
  await page.getByRole("link", { name: "team/app" }).waitFor();
  await page.goto(`${berth.url}/#/r/%E0%A4%A`);
  await page.getByText("No such page").waitFor();
  // A "digest" that would walk the API's paths is refused before any request.
  await page.goto(`${berth.url}/#/r/${reg}/repo/team%2Fapp/manifest/..%2F..%2F..%2Fregistries`);
  await page.getByText("is not a digest").waitFor();
});

test("updates the plan, disables a token and deletes a tag with confirmation", async () => {
  await page.goto(`${berth.url}/#/r/${reg}/settings`);
  const quota = page.getByLabel("Storage quota (GiB)");
  await quota.fill("20");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Saved.").waitFor();
  await page.reload();
  await page.getByRole("heading", { name: "Plan" }).waitFor();
  assert.equal(await page.getByLabel("Storage quota (GiB)").inputValue(), "20");

  await page.goto(`${berth.url}/#/r/${reg}/access`);
  const enabled = page.getByRole("switch", { name: "Token viewer enabled" });
  const answered = page.waitForResponse((r) => r.request().method() === "PATCH" && r.url().includes("/tokens/viewer"));
  await enabled.uncheck();
  assert.equal((await answered).status(), 200);
  await page.reload();
  assert.equal(await page.getByRole("switch", { name: "Token viewer enabled" }).isChecked(), false);

  await page.goto(`${berth.url}/#/r/${reg}/repo/team%2Fapp/tag/v2`);
  await page.getByRole("button", { name: "Delete tag v2" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete tag" }).click();
  await page.getByRole("table", { name: "Tags" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "v2", exact: true }).count(), 0);
  const gone = await clients.skopeo("inspect", "--tls-verify=false", "--creds", `${reg}:${adminPassword}`, `docker://${host}/team/app:v2`);
  assert.notEqual(gone.code, 0, "the deleted tag still resolves");
});

test("deletes the registry once its name is typed", async () => {
  await page.goto(`${berth.url}/#/r/${reg}/settings`);
  await page.getByRole("button", { name: "Delete registry" }).click();
  const dialog = page.getByRole("dialog");
  const confirm = dialog.getByRole("button", { name: "Delete", exact: true });
  assert.equal(await confirm.isDisabled(), true);
  await dialog.getByLabel(`Type ${reg} to confirm`).fill(reg.slice(0, -1));
  assert.equal(await confirm.isDisabled(), true);
  await dialog.getByLabel(`Type ${reg} to confirm`).fill(reg);
  await confirm.click();
  await page.getByRole("heading", { name: "Registries" }).waitFor();
  await page.getByRole("link", { name: "default" }).waitFor();
  assert.equal(await page.getByRole("link", { name: reg }).count(), 0);
  const gone = await clients.skopeo("inspect", "--tls-verify=false", "--creds", `${reg}:${adminPassword}`, `docker://${host}/team/app:v1`);
  assert.notEqual(gone.code, 0, "the deleted registry still serves");
});

test("nothing left the origin, broke the CSP, threw, or failed axe-core", () => {
  assert.deepEqual(foreign, [], "requests to other origins");
  assert.deepEqual(problems, []);
});
