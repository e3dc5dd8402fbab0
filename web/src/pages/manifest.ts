// A tag or a manifest: digest, media type, size, times, the pull commands, locks, an index's
// platforms, an image's layers and config, annotations, referrers as a tree, and (for a tag)
// its history; delete with confirmation.
import {
  ApiError,
  del,
  get,
  patch,
  registryPath,
  repoPath,
  type Descriptor,
  type ImageConfig,
  type Manifest,
  type Registry,
  type Tag,
  type TagHistoryEntry,
} from "../api";
import { bytes, confirmDialog, copyable, errorBox, h, replace, section, shortDigest, toggle, when } from "../dom";
import { links, registryCrumbs, setCrumbs } from "../layout";
import { can, listsRegistries, session } from "../session";

type Child = Parameters<typeof h>[2];

// A digest as a path segment. The server reads paths as sent, so a digest goes in as it is,
// once it has the grammar's shape (an address that holds anything else is not a digest).
function digestSegment(digest: string): string {
  if (!/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(digest)) {
    throw new ApiError(400, "INVALID_ARGUMENT", `"${digest}" is not a digest`);
  }
  return digest;
}

async function loginServerOf(registry: string): Promise<string> {
  const s = session();
  if (s?.loginServer) return s.loginServer;
  return (await get<Registry>(registryPath(registry))).loginServer;
}

function kv(pairs: [string, Child][]): HTMLElement {
  return h("dl", { class: "kv" }, pairs.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

function descriptorTable(label: string, rows: Descriptor[], link?: (d: Descriptor) => string): HTMLElement {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { "aria-label": label },
      h(
        "thead",
        null,
        h("tr", null, h("th", { scope: "col" }, "Media type"), h("th", { scope: "col" }, "Digest"), h("th", { scope: "col", class: "num" }, "Size")),
      ),
      h(
        "tbody",
        null,
        rows.map((d) =>
          h(
            "tr",
            null,
            h("td", null, h("code", null, d.mediaType ?? "–")),
            h("td", null, link ? h("a", { class: "mono", href: link(d) }, shortDigest(d.digest)) : h("span", { class: "mono", title: d.digest }, shortDigest(d.digest))),
            h("td", { class: "num" }, bytes(d.size)),
          ),
        ),
      ),
    ),
  );
}

function annotations(values: Record<string, string> | undefined, label: string): HTMLElement | null {
  const entries = Object.entries(values ?? {});
  if (entries.length === 0) return null;
  return h("div", null, h("h2", null, label), kv(entries.map(([k, v]) => [k, v])));
}

function configSection(config: ImageConfig): HTMLElement {
  const c = config.config ?? {};
  const list = (items: string[] | null | undefined) =>
    items && items.length ? h("code", null, JSON.stringify(items)) : h("span", { class: "muted" }, "–");
  const labels = Object.entries(c.Labels ?? {});
  return h(
    "div",
    null,
    h("h2", null, "Config"),
    kv([
      ["Platform", `${config.os ?? "?"}/${config.architecture ?? "?"}${config["os.version"] ? ` (${config["os.version"]})` : ""}`],
      ["Built", when(config.created)],
      ["Entrypoint", list(c.Entrypoint)],
      ["Command", list(c.Cmd)],
      ["Working directory", c.WorkingDir || "–"],
      ["User", c.User || "–"],
      ["Exposed ports", Object.keys(c.ExposedPorts ?? {}).join(", ") || "–"],
      [
        "Environment",
        c.Env && c.Env.length ? h("ul", { class: "tree" }, c.Env.map((e) => h("li", null, h("code", null, e)))) : "–",
      ],
    ]),
    labels.length ? [h("h3", null, "Labels"), kv(labels.map(([k, v]) => [k, v]))] : null,
  );
}

// Referrers of `digest`, each with its own referrers below it (signatures of an SBOM...), to a
// bounded depth.
function referrerTree(registry: string, repository: string, referrers: Manifest["referrers"], depth: number): HTMLElement {
  return h(
    "ul",
    { class: "tree" },
    referrers.map((r) => {
      const below = h("div");
      if (depth < 4) {
        void get<Manifest>(repoPath(registry, repository, `/_manifests/${digestSegment(r.digest)}`))
          .then((m) => {
            if (m.referrers.length) replace(below, referrerTree(registry, repository, m.referrers, depth + 1));
          })
          .catch((err) => replace(below, errorBox(err)));
      }
      return h(
        "li",
        null,
        h("span", { class: "badge" }, r.artifactType ?? "artifact"),
        " ",
        h("a", { class: "mono", href: links.manifest(registry, repository, r.digest) }, shortDigest(r.digest)),
        below,
      );
    }),
  );
}

function history(entries: TagHistoryEntry[]): HTMLElement {
  if (entries.length === 0) return h("p", { class: "muted" }, "No history.");
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { "aria-label": "Tag history" },
      h("thead", null, h("tr", null, ["When", "What", "From", "To", "Who"].map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        null,
        entries.map((e) =>
          h(
            "tr",
            null,
            h("td", null, when(e.time)),
            h("td", null, e.action),
            h("td", { class: "mono" }, e.fromDigest ? shortDigest(e.fromDigest) : "–"),
            h("td", { class: "mono" }, e.toDigest ? shortDigest(e.toDigest) : "–"),
            h("td", null, e.identity),
          ),
        ),
      ),
    ),
  );
}

function details(
  registry: string,
  repository: string,
  m: Manifest,
  tag: Tag | null,
  loginServer: string,
): HTMLElement[] {
  const ref = tag ? `${repository}:${tag.name}` : `${repository}@${m.digest}`;
  const writable = can("metadata/write", registry, repository);
  const deletable = can("content/delete", registry, repository);
  const doc = m.manifest ?? {};
  const out: HTMLElement[] = [];
  out.push(
    h(
      "div",
      { class: "panel" },
      kv([
        ["Digest", copyable(m.digest, "Copy the digest")],
        ["Media type", h("code", null, m.mediaType)],
        ...(m.artifactType ? ([["Artifact type", h("code", null, m.artifactType)]] as [string, Child][]) : []),
        ["Size", bytes(m.size)],
        ["Created", when(m.createdTime)],
        ...(tag ? ([["Tag updated", when(tag.lastUpdateTime)]] as [string, Child][]) : []),
        ["Tags", m.tags.length ? m.tags.map((t) => [h("a", { href: links.tag(registry, repository, t) }, t), " "]) : "–"],
        ["Docker", copyable(`docker pull ${loginServer}/${ref}`, "Copy the docker pull command")],
        ["Podman", copyable(`podman pull ${loginServer}/${ref}`, "Copy the podman pull command")],
      ]),
    ),
  );

  const lockToggles: HTMLElement[] = [];
  if (tag) {
    const tagPath = repoPath(registry, repository, `/_tags/${encodeURIComponent(tag.name)}`);
    const change = (key: string) => (writable ? async (on: boolean) => void (await patch(tagPath, { [key]: on })) : null);
    lockToggles.push(
      toggle(`Tag ${tag.name}: write (move)`, tag.changeableAttributes.writeEnabled, change("writeEnabled")),
      toggle(`Tag ${tag.name}: delete`, tag.changeableAttributes.deleteEnabled, change("deleteEnabled")),
    );
  }
  const manifestPath = repoPath(registry, repository, `/_manifests/${digestSegment(m.digest)}`);
  const changeManifest = (key: string) =>
    writable ? async (on: boolean) => void (await patch(manifestPath, { [key]: on })) : null;
  lockToggles.push(
    toggle("Manifest: write", m.changeableAttributes.writeEnabled, changeManifest("writeEnabled")),
    toggle("Manifest: delete", m.changeableAttributes.deleteEnabled, changeManifest("deleteEnabled")),
  );
  out.push(h("div", { class: "panel" }, h("h2", null, "Locks"), h("div", { class: "switches" }, lockToggles)));

  if (m.platforms.length) {
    out.push(
      h(
        "div",
        null,
        h("h2", null, "Platforms"),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { "aria-label": "Platforms" },
            h("thead", null, h("tr", null, ["OS", "Architecture", "Variant", "OS version", "Manifest"].map((c) => h("th", { scope: "col" }, c)))),
            h(
              "tbody",
              null,
              m.platforms.map((p) =>
                h(
                  "tr",
                  null,
                  h("td", null, p.os),
                  h("td", null, p.architecture),
                  h("td", null, p.variant ?? "–"),
                  h("td", null, p.osVersion ?? "–"),
                  h("td", null, p.digest ? h("a", { class: "mono", href: links.manifest(registry, repository, p.digest) }, shortDigest(p.digest)) : "–"),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  } else if (doc.manifests?.length) {
    out.push(h("div", null, h("h2", null, "Manifests"), descriptorTable("Manifests", doc.manifests, (d) => links.manifest(registry, repository, d.digest))));
  }
  if (doc.layers?.length) {
    const total = doc.layers.reduce((sum, l) => sum + (l.size ?? 0), 0);
    out.push(h("div", null, h("h2", null, `Layers (${doc.layers.length}, ${bytes(total)})`), descriptorTable("Layers", doc.layers)));
  }
  if (m.config) out.push(configSection(m.config));
  else if (doc.config) out.push(h("div", null, h("h2", null, "Config"), descriptorTable("Config", [doc.config])));
  if (doc.subject) {
    out.push(
      h(
        "div",
        null,
        h("h2", null, "Refers to"),
        h("p", null, h("a", { class: "mono", href: links.manifest(registry, repository, doc.subject.digest) }, doc.subject.digest)),
      ),
    );
  }
  const notes = annotations(doc.annotations, "Annotations");
  if (notes) out.push(notes);
  out.push(
    h(
      "div",
      null,
      h("h2", null, "Referrers"),
      m.referrers.length
        ? referrerTree(registry, repository, m.referrers, 1)
        : h("p", { class: "muted" }, "No signatures, SBOMs or other artifacts refer to it."),
    ),
  );
  if (tag) {
    const hist = h("div");
    out.push(h("div", null, h("h2", null, "Tag history"), hist));
    void section(
      hist,
      "history",
      () =>
        get<{ history: TagHistoryEntry[] }>(
          repoPath(registry, repository, `/_tags/${encodeURIComponent(tag.name)}/history?n=20`),
        ),
      (r) => history(r.history),
    );
  }
  if (deletable) {
    const problem = h("div");
    const buttons: HTMLElement[] = [];
    if (tag) {
      const untag = h("button", { class: "danger", type: "button" }, `Delete tag ${tag.name}`);
      untag.addEventListener("click", async () => {
        if (!(await confirmDialog({ title: `Delete tag ${tag.name}?`, body: h("p", null, "The manifest stays; only the tag goes."), confirm: "Delete tag", danger: true }))) return;
        try {
          await del(repoPath(registry, repository, `/_tags/${encodeURIComponent(tag.name)}`));
          location.hash = links.repository(registry, repository);
        } catch (err) {
          replace(problem, errorBox(err));
        }
      });
      buttons.push(untag);
    }
    const remove = h("button", { class: "danger", type: "button" }, "Delete manifest");
    remove.addEventListener("click", async () => {
      const ok = await confirmDialog({
        title: "Delete this manifest?",
        body: h("p", null, `${shortDigest(m.digest)} and every tag that points to it (${m.tags.join(", ") || "none"}) are deleted.`),
        confirm: "Delete manifest",
        danger: true,
      });
      if (!ok) return;
      try {
        await del(manifestPath);
        location.hash = links.repository(registry, repository);
      } catch (err) {
        replace(problem, errorBox(err));
      }
    });
    buttons.push(remove);
    out.push(h("div", { class: "panel" }, h("h2", null, "Delete"), h("div", { class: "row" }, buttons), problem));
  }
  return out;
}

export function renderManifest(
  main: HTMLElement,
  registry: string,
  repository: string,
  kind: "tag" | "manifest",
  ref: string,
): void {
  const label = kind === "tag" ? ref : shortDigest(ref);
  setCrumbs(
    registryCrumbs(registry, listsRegistries(), { label: repository, href: links.repository(registry, repository) }, { label }),
  );
  const body = h("div");
  replace(main, h("h1", null, kind === "tag" ? `${repository}:${ref}` : `${repository}@${label}`), body);
  void section(
    body,
    kind === "tag" ? "the tag" : "the manifest",
    async () => {
      const tag = kind === "tag" ? await get<Tag>(repoPath(registry, repository, `/_tags/${encodeURIComponent(ref)}`)) : null;
      const digest = tag ? tag.digest : ref;
      const [m, server] = await Promise.all([
        get<Manifest>(repoPath(registry, repository, `/_manifests/${digestSegment(digest)}`)),
        loginServerOf(registry),
      ]);
      return { m, tag, server };
    },
    ({ m, tag, server }) => details(registry, repository, m, tag, server),
  );
}
