// A repository: its locks, and its tags, searched and paged on the server (a repository of
// 10,000 tags sends 50 at a time).
import { del, get, patch, repoPath, type Repository, type Tag } from "../api";
import { bytes, confirmDialog, errorBox, h, loading, replace, section, shortDigest, toggle, when } from "../dom";
import { links, registryCrumbs, setCrumbs } from "../layout";
import { can, listsRegistries } from "../session";

const PAGE = 50;

interface TagPage {
  tags: Tag[];
  totalCount: number;
}

function locks(registry: string, repository: Repository): HTMLElement {
  const writable = can("metadata/write", registry, repository.imageName);
  const a = repository.changeableAttributes;
  const change = (key: string) =>
    writable
      ? async (on: boolean) => {
          await patch(repoPath(registry, repository.imageName), { [key]: on });
        }
      : null;
  return h(
    "div",
    { class: "panel" },
    h("h2", null, "Locks"),
    h(
      "div",
      { class: "switches" },
      toggle("Read (pull)", a.readEnabled ?? true, change("readEnabled")),
      toggle("Write (push)", a.writeEnabled, change("writeEnabled")),
      toggle("Delete", a.deleteEnabled, change("deleteEnabled")),
      toggle("List", a.listEnabled ?? true, change("listEnabled")),
    ),
    writable ? null : h("p", { class: "hint" }, "This session may not change them."),
  );
}

function tags(registry: string, repository: string, into: HTMLElement): void {
  const search = h("input", { type: "search", placeholder: "Filter by tag", "aria-label": "Filter tags" });
  const order = h(
    "select",
    { "aria-label": "Order of tags" },
    h("option", { value: "time_desc" }, "Newest first"),
    h("option", { value: "time_asc" }, "Oldest first"),
    h("option", { value: "name" }, "By name"),
  );
  const list = h("div");
  const pager = h("div", { class: "pager" });
  let offset = 0;
  let latest = 0; // the answer of an older search or page is dropped when it comes late
  const load = async (): Promise<void> => {
    const mine = ++latest;
    replace(list, loading("tags"));
    for (const button of Array.from(pager.querySelectorAll("button"))) button.disabled = true;
    const params = new URLSearchParams({ n: String(PAGE), offset: String(offset), orderby: order.value });
    const q = search.value.trim();
    if (q) params.set("q", q);
    try {
      const page = await get<TagPage>(`${repoPath(registry, repository, "/_tags")}?${params}`);
      if (mine !== latest) return;
      replace(
        list,
        page.tags.length === 0
          ? h("p", { class: "muted" }, q ? `No tag contains "${q}".` : "No tags.")
          : h(
              "div",
              { class: "table-wrap" },
              h(
                "table",
                { "aria-label": "Tags" },
                h(
                  "thead",
                  null,
                  h(
                    "tr",
                    null,
                    h("th", { scope: "col" }, "Tag"),
                    h("th", { scope: "col" }, "Digest"),
                    h("th", { scope: "col", class: "num" }, "Size"),
                    h("th", { scope: "col", class: "hide-narrow" }, "Updated"),
                  ),
                ),
                h(
                  "tbody",
                  null,
                  page.tags.map((t) =>
                    h(
                      "tr",
                      null,
                      h("td", null, h("a", { href: links.tag(registry, repository, t.name) }, t.name)),
                      h("td", null, h("a", { class: "mono", href: links.manifest(registry, repository, t.digest) }, shortDigest(t.digest))),
                      h("td", { class: "num" }, bytes(t.size)),
                      h("td", { class: "hide-narrow" }, when(t.lastUpdateTime)),
                    ),
                  ),
                ),
              ),
            ),
      );
      const last = Math.min(offset + PAGE, page.totalCount);
      const prev = h("button", { type: "button", disabled: offset === 0 }, "Previous");
      prev.addEventListener("click", () => {
        offset = Math.max(0, offset - PAGE);
        void load();
      });
      const next = h("button", { type: "button", disabled: last >= page.totalCount }, "Next");
      next.addEventListener("click", () => {
        offset += PAGE;
        void load();
      });
      replace(
        pager,
        prev,
        next,
        h("span", { class: "muted", role: "status" }, page.totalCount === 0 ? "" : `${offset + 1}–${last} of ${page.totalCount}`),
      );
    } catch (err) {
      if (mine === latest) replace(list, errorBox(err, () => void load()));
    }
  };
  let timer = 0;
  search.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      offset = 0;
      void load();
    }, 250);
  });
  order.addEventListener("change", () => {
    offset = 0;
    void load();
  });
  replace(into, h("h2", null, "Tags"), h("div", { class: "row" }, search, order), list, pager);
  void load();
}

export function renderRepository(main: HTMLElement, registry: string, repository: string): void {
  setCrumbs(registryCrumbs(registry, listsRegistries(), { label: repository }));
  const info = h("div");
  const tagList = h("div");
  const remove = can("content/delete", registry, repository)
    ? h("button", { class: "danger", type: "button" }, "Delete repository")
    : null;
  remove?.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: `Delete ${repository}?`,
      body: h("p", null, "Every tag and manifest of the repository is deleted."),
      confirm: "Delete",
      danger: true,
      typeToConfirm: repository,
    });
    if (!ok) return;
    try {
      await del(repoPath(registry, repository));
      location.hash = links.registry(registry);
    } catch (err) {
      info.append(errorBox(err));
    }
  });
  replace(main, h("div", { class: "row spread" }, h("h1", null, repository), remove), info, tagList);
  void section(info, "repository", () => get<Repository>(repoPath(registry, repository)), (r) => [
    h("p", { class: "sub" }, `${r.tagCount} tags · ${r.manifestCount} manifests · updated ${when(r.lastUpdateTime)}`),
    locks(registry, r),
  ]);
  tags(registry, repository, tagList);
}
