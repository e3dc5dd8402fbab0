// The list of registries (the operator's all, a principal's those its roles reach) (name, login server, SKU, storage used against quota,
// created) and the dialog that creates one, its name checked as it is typed.
import { get, post, registryPath, type Registry, type UsageEntry } from "../api";
import { bytes, field, formDialog, h, replace, section, usageBar, when } from "../dom";
import { links, setCrumbs } from "../layout";
import { createsRegistries, isOperator, seesRegistry } from "../session";

const SKUS = ["Basic", "Standard", "Premium"];

function usageCell(registry: Registry): HTMLElement {
  const cell = h("div", null, h("span", { class: "loading" }, "…"));
  void get<{ value: UsageEntry[] }>(registryPath(registry.name, "/usage"))
    .then((usage) => {
      const size = usage.value.find((u) => u.name === "Size");
      if (!size) return;
      replace(
        cell,
        usageBar(size.currentValue, size.limit, `Storage of ${registry.name}`),
        h("span", { class: "hint" }, `${bytes(size.currentValue)} of ${bytes(size.limit)}`),
      );
    })
    .catch(() => replace(cell, h("span", { class: "muted" }, "unavailable")));
  return cell;
}

function table(registries: Registry[]): HTMLElement {
  if (registries.length === 0) {
    return h("p", { class: "muted" }, "No registries yet.");
  }
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { "aria-label": "Registries" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          h("th", { scope: "col" }, "Name"),
          h("th", { scope: "col" }, "Login server"),
          h("th", { scope: "col" }, "SKU"),
          h("th", { scope: "col" }, "Storage"),
          h("th", { scope: "col", class: "hide-narrow" }, "Created"),
        ),
      ),
      h(
        "tbody",
        null,
        registries.map((r) =>
          h(
            "tr",
            null,
            h("td", null, h("a", { href: links.registry(r.name) }, r.name)),
            h("td", null, h("code", null, r.loginServer)),
            h("td", null, r.sku.name),
            h("td", null, seesRegistry(r.name) ? usageCell(r) : h("span", { class: "muted" }, "—")),
            h("td", { class: "hide-narrow" }, when(r.creationDate)),
          ),
        ),
      ),
    ),
  );
}

function createDialog(created: (name: string) => void): void {
  const name = h("input", { type: "text", required: true, autocomplete: "off", spellcheck: false, maxLength: 50 });
  const nameStatus = h("p", { class: "hint", "aria-live": "polite" });
  const sku = h("select", null, SKUS.map((s) => h("option", { value: s }, s)));
  const admin = h("input", { type: "checkbox", id: "create-admin" });
  const anonymous = h("input", { type: "checkbox", id: "create-anonymous" });
  const quota = h("input", { type: "number", min: 1, step: 1, placeholder: "the SKU's" });
  let checked = "";
  let available = false;
  let timer = 0;
  const check = async (): Promise<void> => {
    const value = name.value;
    if (value === "") {
      nameStatus.textContent = "";
      return;
    }
    try {
      const answer = await post<{ nameAvailable: boolean; message: string | null }>(
        "/api/v1/registries/check-name",
        { name: value },
      );
      if (name.value !== value) return;
      checked = value;
      available = answer.nameAvailable;
      nameStatus.className = available ? "field-ok" : "field-error";
      nameStatus.textContent = available ? `${value} is available` : (answer.message ?? "not available");
    } catch (err) {
      nameStatus.className = "field-error";
      nameStatus.textContent = (err as Error).message;
    }
  };
  name.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void check(), 250);
  });
  formDialog({
    title: "Create a registry",
    submit: "Create",
    fields: [
      field("create-name", "Name", name, "5 to 50 lowercase letters and digits; it becomes <name>.<domain>."),
      nameStatus,
      field("create-sku", "SKU", sku, "Basic: 10 GiB, 100 tokens; Standard: 100 GiB, 500; Premium: 500 GiB, 50,000."),
      h("label", { class: "inline" }, admin, "Enable the admin account"),
      h("label", { class: "inline" }, anonymous, "Allow anonymous pull"),
      field("create-quota", "Storage quota (GiB)", quota, "Empty: the SKU's included storage."),
    ],
    onSubmit: async () => {
      if (checked !== name.value) await check();
      if (!available) return nameStatus.textContent || "Choose another name.";
      const body: Record<string, unknown> = {
        name: name.value,
        sku: sku.value,
        adminUserEnabled: admin.checked,
        anonymousPullEnabled: anonymous.checked,
      };
      if (quota.value !== "") body["quotaBytes"] = Math.round(Number(quota.value) * 1024 ** 3);
      await post<Registry>("/api/v1/registries", body);
      created(name.value);
      return null;
    },
  });
}

export function renderRegistries(main: HTMLElement): void {
  setCrumbs([{ label: "Registries" }]);
  const list = h("div");
  const createButton = h("button", { class: "primary", type: "button" }, "Create registry");
  createButton.addEventListener("click", () =>
    createDialog((name) => {
      location.hash = links.registry(name);
    }),
  );
  replace(
    main,
    h("div", { class: "row spread" }, h("h1", null, "Registries"), createsRegistries() ? createButton : null),
    h(
      "p",
      { class: "sub" },
      isOperator()
        ? "Every registry of this berth: its own login server, storage and credentials."
        : "The registries your roles reach.",
    ),
    list,
  );
  void section(list, "registries", () => get<Registry[]>("/api/v1/registries"), table);
}
