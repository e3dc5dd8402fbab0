// One registry: its repositories (searchable, paged), access (admin account, passwords, scope
// maps, tokens), usage against its SKU's limits, and settings. A token session sees the
// repositories its scope map lets it read, and nothing else.
import { del, get, patch, registryPath, repoPath, request, type Registry, type Repository } from "../api";
import { confirmDialog, copyable, errorBox, field, h, loading, replace, section, toggle, when } from "../dom";
import { links, registryCrumbs, setCrumbs } from "../layout";
import {
  changesRegistry,
  listsRegistries,
  managesRegistry,
  readsRegistry,
  seesRegistry,
  session,
} from "../session";
import { renderAccess } from "./access";
import { renderUsage } from "./usage";

export type RegistryTab = "repositories" | "access" | "usage" | "settings";

const PAGE = 50;

function tabsFor(registry: string, current: RegistryTab): HTMLElement {
  const tabs: [RegistryTab, string][] = [["repositories", "Repositories"]];
  if (managesRegistry(registry)) tabs.push(["access", "Access"]);
  if (seesRegistry(registry)) tabs.push(["usage", "Usage"]);
  if (changesRegistry(registry)) tabs.push(["settings", "Settings"]);
  return h(
    "nav",
    { class: "tabs", "aria-label": "Registry" },
    tabs.map(([tab, label]) =>
      h(
        "a",
        {
          href: links.registry(registry, tab === "repositories" ? "" : tab),
          "aria-current": tab === current ? "page" : null,
        },
        label,
      ),
    ),
  );
}

// A row with the name at once, and its counts and time once they arrive.
function repositoryRow(registry: string, name: string): HTMLElement {
  const tags = h("td", { class: "num" }, "…");
  const manifests = h("td", { class: "num hide-narrow" }, "…");
  const updated = h("td", { class: "hide-narrow" }, "…");
  void get<Repository>(repoPath(registry, name))
    .then((r) => {
      tags.textContent = String(r.tagCount);
      manifests.textContent = String(r.manifestCount);
      updated.textContent = when(r.lastUpdateTime);
    })
    .catch(() => {
      for (const cell of [tags, manifests, updated]) cell.textContent = "–";
    });
  return h("tr", null, h("td", null, h("a", { href: links.repository(registry, name) }, name)), tags, manifests, updated);
}

function repositories(registry: string, into: HTMLElement): void {
  const search = h("input", {
    type: "search",
    placeholder: "Filter by name",
    "aria-label": "Filter repositories by name",
  });
  const list = h("div");
  const pager = h("div", { class: "pager" });
  // The `last` of each page shown so far, to go back.
  let trail: string[] = [];
  let next: string | null = null;
  let latest = 0; // the answer of an older search or page is dropped when it comes late
  const load = async (last: string): Promise<void> => {
    const mine = ++latest;
    replace(list, loading("repositories"));
    replace(pager);
    const q = search.value.trim();
    const params = new URLSearchParams({ n: String(PAGE) });
    if (last) params.set("last", last);
    if (q) params.set("q", q);
    try {
      const answer = await request<string[]>("GET", `${registryPath(registry, "/repositories")}?${params}`);
      if (mine !== latest) return;
      next = answer.next;
      const names = answer.data;
      replace(
        list,
        names.length === 0
          ? h("p", { class: "muted" }, q ? `No repository name contains "${q}".` : "No repositories yet: push an image.")
          : h(
              "div",
              { class: "table-wrap" },
              h(
                "table",
                { "aria-label": "Repositories" },
                h(
                  "thead",
                  null,
                  h(
                    "tr",
                    null,
                    h("th", { scope: "col" }, "Repository"),
                    h("th", { scope: "col", class: "num" }, "Tags"),
                    h("th", { scope: "col", class: "num hide-narrow" }, "Manifests"),
                    h("th", { scope: "col", class: "hide-narrow" }, "Updated"),
                  ),
                ),
                h("tbody", null, names.map((n) => repositoryRow(registry, n))),
              ),
            ),
      );
      performance.mark("berth:repositories-rendered");
      const prev = h("button", { type: "button", disabled: trail.length === 0 }, "Previous");
      prev.addEventListener("click", () => {
        trail.pop();
        void load(trail[trail.length - 1] ?? "");
      });
      const more = h("button", { type: "button", disabled: next === null }, "Next");
      more.addEventListener("click", () => {
        const lastName = names[names.length - 1] ?? "";
        trail.push(lastName);
        void load(lastName);
      });
      replace(pager, prev, more);
    } catch (err) {
      if (mine === latest) replace(list, errorBox(err, () => void load(last)));
    }
  };
  let timer = 0;
  search.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      trail = [];
      void load("");
    }, 250);
  });
  replace(into, h("div", { class: "row" }, search), list, pager);
  void load("");
}

function settings(registry: Registry, into: HTMLElement): void {
  const sku = h("select", null, ["Basic", "Standard", "Premium"].map((s) => h("option", { value: s, selected: s === registry.sku.name }, s)));
  const quota = h("input", { type: "number", min: 1, step: 1, value: String(Math.round(registry.quota.storageBytes / 1024 ** 3)) });
  const saved = h("p", { role: "status" });
  const save = h("button", { class: "primary", type: "submit" }, "Save");
  const form = h(
    "form",
    { class: "panel" },
    h("h2", null, "Plan"),
    field("settings-sku", "SKU", sku),
    field("settings-quota", "Storage quota (GiB)", quota),
    h("div", { class: "row" }, save),
    saved,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    save.disabled = true;
    replace(saved, "Saving…");
    try {
      await patch(registryPath(registry.name), {
        sku: sku.value,
        quotaBytes: Math.round(Number(quota.value) * 1024 ** 3),
      });
      replace(saved, h("span", { class: "field-ok" }, "Saved."));
    } catch (err) {
      replace(saved, errorBox(err));
    } finally {
      save.disabled = false;
    }
  });
  const change = (key: string) => async (on: boolean) => {
    await patch(registryPath(registry.name), { [key]: on });
  };
  const remove = h("button", { class: "danger", type: "button" }, "Delete registry");
  remove.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: `Delete ${registry.name}?`,
      body: h("p", null, "Every repository, image, credential and token of this registry is deleted. This cannot be undone."),
      confirm: "Delete",
      danger: true,
      typeToConfirm: registry.name,
    });
    if (!ok) return;
    try {
      await del(registryPath(registry.name));
      location.hash = links.registries();
    } catch (err) {
      into.append(errorBox(err));
    }
  });
  replace(
    into,
    form,
    h(
      "div",
      { class: "panel" },
      h("h2", null, "Access"),
      h(
        "div",
        { class: "switches" },
        toggle("Admin account", registry.adminUserEnabled, change("adminUserEnabled")),
        toggle("Anonymous pull", registry.anonymousPullEnabled, change("anonymousPullEnabled")),
        toggle("Audit pulls", registry.auditPullsEnabled ?? false, change("auditPullsEnabled")),
      ),
    ),
    h(
      "div",
      { class: "panel" },
      h("h2", null, "Delete"),
      h("p", null, "Deleting a registry removes everything in it."),
      remove,
    ),
  );
}

export function renderRegistry(main: HTMLElement, name: string, tab: RegistryTab): void {
  const s = session();
  const titles: Record<RegistryTab, string> = {
    repositories: "Repositories",
    access: "Access",
    usage: "Usage",
    settings: "Settings",
  };
  setCrumbs(registryCrumbs(name, listsRegistries(), { label: titles[tab] ?? "Repositories" }));
  const body = h("div");
  const head = h("div");
  replace(main, head, tabsFor(name, tab), body);
  const loginServer = s?.kind !== "operator" ? s?.loginServer ?? null : null;
  const header = (r: Registry | null) =>
    h(
      "div",
      null,
      h("h1", null, name),
      h(
        "p",
        { class: "sub" },
        "Login server ",
        copyable(r?.loginServer ?? loginServer ?? "", "Copy the login server"),
        r ? [" · ", r.sku.name, " · created ", when(r.creationDate)] : null,
      ),
    );
  if (readsRegistry()) {
    void section(head, "registry", () => get<Registry>(registryPath(name)), (r) => {
      if (tab === "settings") settings(r, body);
      return header(r);
    });
  } else {
    replace(head, header(null));
  }
  if (tab === "repositories") repositories(name, body);
  else if (tab === "access" && managesRegistry(name)) renderAccess(name, body);
  else if (tab === "usage" && seesRegistry(name)) renderUsage(name, body);
  else if (tab === "settings" && changesRegistry(name)) replace(body, loading("settings"));
  else replace(body, h("p", { class: "error", role: "alert" }, "This session may not see that page."));
}
