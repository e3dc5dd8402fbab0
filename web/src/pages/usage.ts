// A registry's usage against its SKU (storage, repositories, scope maps, tokens, webhooks),
// the last garbage collection, and its webhooks.
import { get, registryPath, type GcStatus, type UsageEntry, type Webhook } from "../api";
import { bytes, h, replace, section, usageBar, when } from "../dom";

const LABELS: Record<string, string> = {
  Size: "Storage",
  Repositories: "Repositories",
  ScopeMaps: "Scope maps",
  Tokens: "Tokens",
  Webhooks: "Webhooks",
};

function usageRows(entries: UsageEntry[]): HTMLElement {
  return h(
    "div",
    { class: "usage panel" },
    entries.map((u) => {
      const label = LABELS[u.name] ?? u.name;
      const show = (n: number | null) => (n === null ? "no limit" : u.unit === "Bytes" ? bytes(n) : String(n));
      return [
        h("strong", null, label),
        u.limit === null ? h("span", { class: "muted" }, "–") : usageBar(u.currentValue, u.limit, label),
        h("span", null, u.limit === null ? show(u.currentValue) : `${show(u.currentValue)} of ${show(u.limit)}`),
      ];
    }),
  );
}

function gc(status: GcStatus): HTMLElement {
  const run = status.lastRun;
  if (!run) return h("p", { class: "muted" }, "No garbage collection has run yet.");
  return h(
    "dl",
    { class: "kv panel" },
    h("dt", null, "Last run"),
    h("dd", null, `${when(run.started)} – ${when(run.finished)}`),
    h("dt", null, "Removed"),
    h("dd", null, `${run.blobsRemoved} blobs, ${bytes(run.bytesRemoved)}`),
    h("dt", null, "Result"),
    h("dd", null, run.error ? h("span", { class: "field-error" }, run.error) : "succeeded"),
  );
}

function webhooks(list: Webhook[]): HTMLElement {
  if (list.length === 0) {
    return h("p", { class: "muted" }, "No webhooks. Create them with ", h("code", null, "berth webhook create"), ".");
  }
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { "aria-label": "Webhooks" },
      h("thead", null, h("tr", null, ["Name", "Service URI", "Actions", "Scopes", "Status"].map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        null,
        list.map((w) =>
          h(
            "tr",
            null,
            h("td", null, w.name),
            h("td", null, h("code", null, w.serviceUri)),
            h("td", null, w.actions.join(", ")),
            h("td", null, w.scopes.length ? w.scopes.join(", ") : "all"),
            h("td", null, w.status),
          ),
        ),
      ),
    ),
  );
}

export function renderUsage(registry: string, into: HTMLElement): void {
  const usage = h("div");
  const collection = h("div");
  const hooks = h("div");
  replace(
    into,
    h("h2", null, "Usage"),
    usage,
    h("h2", null, "Garbage collection"),
    collection,
    h("h2", null, "Webhooks"),
    hooks,
  );
  void section(usage, "usage", () => get<{ value: UsageEntry[] }>(registryPath(registry, "/usage")), (u) => usageRows(u.value));
  void section(collection, "garbage collection", () => get<GcStatus>(registryPath(registry, "/gc")), gc);
  void section(hooks, "webhooks", () => get<Webhook[]>(registryPath(registry, "/webhooks")), webhooks);
}
