// What the portal's browser tests stand on: a berth server of their own (a fresh data
// directory, a free port, --domain), Debian's chromium driven by playwright-core, skopeo
// reaching <registry>.<domain> through a private /etc/hosts in its own mount namespace, OCI
// images made offline with umoci, and plain HTTP to the data plane with any Host header.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync, copyFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createHash } from "node:crypto";
import { chromium } from "playwright-core";

const run = promisify(execFile);

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function startBerth({ domain, config = {} }) {
  const bin = process.env.BERTH_BIN;
  if (!bin) throw new Error("BERTH_BIN must name the berth binary");
  const dir = mkdtempSync(join(tmpdir(), "berth-portal-"));
  const port = await freePort();
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  const child = spawn(
    bin,
    ["serve", "--listen", `127.0.0.1:${port}`, "--data", join(dir, "data"), "--domain", `${domain}:${port}`,
      "--config", join(dir, "config.json")],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  child.stderr.on("data", (d) => {
    log += d;
    if (log.length > 200_000) log = log.slice(-100_000);
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`berth exited at start:\n${log}`);
    if (i > 300) throw new Error(`berth did not answer /healthz within 30 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const operatorToken = readFileSync(join(dir, "data", "operator-token"), "utf8").trim();
  return {
    url,
    port,
    dir,
    operatorToken,
    log: () => log,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.BERTH_CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

// Real clients in a mount namespace of their own whose /etc/hosts sends `hosts` to 127.0.0.1.
export class Clients {
  constructor(dir) {
    this.dir = dir;
    this.hosts = join(dir, "hosts");
    copyFileSync("/etc/hosts", this.hosts);
    this.policy = join(dir, "policy.json");
    writeFileSync(this.policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }));
    this.auth = join(dir, "auth.json");
    writeFileSync(this.auth, "{}");
  }
  resolve(host) {
    appendFileSync(this.hosts, `127.0.0.1 ${host}\n`);
  }
  // skopeo ARGS...: { code, out } (out: stdout and stderr).
  async skopeo(...args) {
    const script = 'mount --bind "$HOSTS" /etc/hosts && exec "$@"';
    try {
      const { stdout, stderr } = await run(
        "unshare",
        ["--mount", "bash", "-c", script, "_", "timeout", "120", "skopeo", "--policy", this.policy, ...args],
        { env: { ...process.env, HOSTS: this.hosts, REGISTRY_AUTH_FILE: this.auth }, maxBuffer: 1 << 24 },
      );
      return { code: 0, out: stdout + stderr };
    } catch (err) {
      return { code: err.code ?? 1, out: `${err.stdout ?? ""}${err.stderr ?? ""}` };
    }
  }
}

// An OCI layout at `layout` with image `tag`: one random layer, a config with an entrypoint,
// env and a label.
export async function makeImage(layout, tag, label = tag) {
  try {
    readFileSync(join(layout, "oci-layout"));
  } catch {
    await run("umoci", ["init", "--layout", layout]);
  }
  await run("umoci", ["new", "--image", `${layout}:${tag}`]);
  const content = join(layout, `..`, `${tag}-content.bin`);
  writeFileSync(content, createHash("sha256").update(`${tag}${Math.random()}`).digest().toString("hex").repeat(64));
  await run("umoci", ["insert", "--rootless", "--image", `${layout}:${tag}`, content, `/data/${tag}.bin`]);
  await run("umoci", [
    "config", "--image", `${layout}:${tag}`, "--architecture", "amd64", "--os", "linux",
    "--config.entrypoint", "/app", "--config.env", `MODE=${label}`, "--config.label", `org.example.tier=${label}`,
  ]);
  await run("umoci", ["gc", "--layout", layout]);
}

// One request to berth with any Host header (the data plane picks the registry by it).
export function http(url, { method = "GET", host, path, headers = {}, body, agent }) {
  const target = new URL(path, url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method,
        agent,
        headers: { ...(host ? { Host: host } : {}), ...headers, ...(body ? { "Content-Length": Buffer.byteLength(body) } : {}) },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

export const sha256 = (data) => `sha256:${createHash("sha256").update(data).digest("hex")}`;
export const basic = (user, password) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
