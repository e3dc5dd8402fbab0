// Who may use a registry: its admin account and two passwords (regenerated and shown once),
// scope maps (repository patterns and actions), and tokens (created, enabled or disabled,
// passwords generated with an expiry), each with the `docker login` that uses it.
import {
  del,
  get,
  patch,
  post,
  registryPath,
  type Credentials,
  type Registry,
  type ScopeMap,
  type Token,
} from "../api";
import { confirmDialog, copyable, errorBox, field, formDialog, h, replace, section, toggle, when } from "../dom";
import { changesRegistry } from "../session";

const ACTIONS = ["content/read", "content/write", "content/delete", "metadata/read", "metadata/write"];

// A secret shown once: the value, a copy button and the warning that it will not be shown again.
function shownOnce(label: string, value: string): HTMLElement {
  return h(
    "div",
    { class: "notice", role: "status" },
    h("p", null, h("strong", null, label), ": copy it now, it will not be shown again."),
    copyable(value, `Copy ${label}`),
  );
}

function loginCommand(server: string, user: string): HTMLElement {
  return copyable(`docker login ${server} -u ${user}`, `Copy the docker login command for ${user}`);
}

function adminAccount(registry: Registry, into: HTMLElement, refresh: () => void): void {
  const revealed = h("div");
  const regenerate = (which: string) => async () => {
    const ok = await confirmDialog({
      title: `Regenerate ${which}?`,
      body: h("p", null, `The current ${which} stops working at once.`),
      confirm: "Regenerate",
      danger: true,
    });
    if (!ok) return;
    try {
      const creds = await post<Credentials>(registryPath(registry.name, "/credentials/renew"), { name: which });
      const value = creds.passwords.find((p) => p.name === which)?.value;
      if (value) replace(revealed, shownOnce(`New ${which}`, value));
    } catch (err) {
      replace(revealed, errorBox(err));
    }
  };
  replace(
    into,
    h(
      "div",
      { class: "panel" },
      h("h2", null, "Admin account"),
      toggle(
        "Admin account enabled",
        registry.adminUserEnabled,
        changesRegistry(registry.name)
          ? async (on) => {
              await patch(registryPath(registry.name), { adminUserEnabled: on });
              refresh();
            }
          : null,
      ),
      registry.adminUserEnabled
        ? [
            h("dl", { class: "kv" }, h("dt", null, "User name"), h("dd", null, h("code", null, registry.name)), h("dt", null, "Sign in"), h("dd", null, loginCommand(registry.loginServer, registry.name))),
            h(
              "div",
              { class: "row" },
              ["password", "password2"].map((which) =>
                h("button", { type: "button", on: { click: regenerate(which) } }, `Regenerate ${which}`),
              ),
            ),
            revealed,
          ]
        : h("p", { class: "muted" }, "Disabled: no one signs in as the registry itself."),
    ),
  );
}

function createScopeMapDialog(registry: string, done: () => void): void {
  const name = h("input", { type: "text", required: true, autocomplete: "off", spellcheck: false });
  const description = h("input", { type: "text", autocomplete: "off" });
  const rules = h("div");
  let count = 0;
  const addRule = (): void => {
    const n = count++;
    const pattern = h("input", { type: "text", required: true, placeholder: "team/app or team/*", spellcheck: false });
    rules.append(
      h(
        "fieldset",
        { class: "panel", "data-rule": "" },
        h("legend", null, `Repositories ${n + 1}`),
        field(`rule-${n}-pattern`, "Repository pattern", pattern),
        h(
          "div",
          { class: "switches" },
          ACTIONS.map((a) => h("label", { class: "inline" }, h("input", { type: "checkbox", value: a, name: `rule-${n}` }), a)),
        ),
      ),
    );
  };
  addRule();
  formDialog({
    title: "Create a scope map",
    submit: "Create",
    fields: [
      field("scope-map-name", "Name", name, "Letters, digits and dashes."),
      field("scope-map-description", "Description", description),
      rules,
      h("button", { type: "button", on: { click: addRule } }, "Add repositories"),
    ],
    onSubmit: async (form) => {
      const actions: string[] = [];
      for (const fieldset of Array.from(form.querySelectorAll<HTMLFieldSetElement>("fieldset[data-rule]"))) {
        const pattern = fieldset.querySelector<HTMLInputElement>("input[type=text]")!.value.trim();
        const chosen = Array.from(fieldset.querySelectorAll<HTMLInputElement>("input[type=checkbox]:checked"));
        if (chosen.length === 0) return `Choose at least one action for ${pattern || "each pattern"}.`;
        for (const c of chosen) actions.push(`repositories/${pattern}/${c.value}`);
      }
      await post(registryPath(registry, "/scope-maps"), { name: name.value.trim(), description: description.value, actions });
      done();
      return null;
    },
  });
}

function scopeMaps(registry: string, maps: ScopeMap[], refresh: () => void): HTMLElement {
  const create = h("button", { class: "primary", type: "button" }, "Create scope map");
  create.addEventListener("click", () => createScopeMapDialog(registry, refresh));
  return h(
    "div",
    { class: "panel" },
    h("div", { class: "row spread" }, h("h2", null, "Scope maps"), create),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { "aria-label": "Scope maps" },
        h("thead", null, h("tr", null, ["Name", "Actions", "Type", ""].map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          null,
          maps.map((m) => {
            const remove =
              m.type === "UserDefined"
                ? h("button", { class: "small danger", type: "button", "aria-label": `Delete scope map ${m.name}` }, "Delete")
                : null;
            remove?.addEventListener("click", async () => {
              if (!(await confirmDialog({ title: `Delete scope map ${m.name}?`, body: h("p", null, "A scope map still used by a token cannot be deleted."), confirm: "Delete", danger: true }))) return;
              try {
                await del(registryPath(registry, `/scope-maps/${encodeURIComponent(m.name)}`));
                refresh();
              } catch (err) {
                remove.after(errorBox(err));
              }
            });
            return h(
              "tr",
              null,
              h("td", null, m.name, m.description ? h("p", { class: "hint" }, m.description) : null),
              h("td", null, h("ul", { class: "tree" }, m.actions.map((a) => h("li", null, h("code", null, a))))),
              h("td", null, h("span", { class: "badge" }, m.type === "SystemDefined" ? "built in" : "custom")),
              h("td", null, remove),
            );
          }),
        ),
      ),
    ),
  );
}

function createTokenDialog(registry: Registry, maps: ScopeMap[], reveal: (el: HTMLElement) => void, done: () => void): void {
  const name = h("input", { type: "text", required: true, autocomplete: "off", spellcheck: false });
  const map = h("select", null, maps.map((m) => h("option", { value: m.name }, m.name)));
  formDialog({
    title: "Create a token",
    submit: "Create",
    fields: [
      field("token-name", "Name", name, "Letters, digits and dashes; the user name of docker login."),
      field("token-scope-map", "Scope map", map, "What the token may do, and where."),
    ],
    onSubmit: async () => {
      const token = await post<Token>(registryPath(registry.name, "/tokens"), { name: name.value.trim(), scopeMapName: map.value });
      reveal(
        h(
          "div",
          null,
          token.credentials.passwords
            .filter((p) => p.value)
            .map((p) => shownOnce(`${token.name} ${p.name}`, p.value!)),
          h("p", null, "Sign in with ", loginCommand(registry.loginServer, token.name)),
        ),
      );
      done();
      return null;
    },
  });
}

function generatePasswordDialog(registry: Registry, token: Token, reveal: (el: HTMLElement) => void, done: () => void): void {
  const which = h("select", null, ["password1", "password2"].map((p) => h("option", { value: p }, p)));
  const days = h("input", { type: "number", min: 1, step: 1, placeholder: "never" });
  formDialog({
    title: `New password for ${token.name}`,
    submit: "Generate",
    fields: [
      field("token-password-name", "Password", which, "The one it replaces stops working at once."),
      field("token-password-days", "Expires after (days)", days, "Empty: never expires."),
    ],
    onSubmit: async () => {
      const body: Record<string, unknown> = { name: which.value };
      if (days.value !== "") {
        const expiry = new Date(Date.now() + Number(days.value) * 86400_000);
        body["expiry"] = expiry.toISOString().replace(/\.\d+Z$/, "Z");
      }
      const updated = await post<Token>(registryPath(registry.name, `/tokens/${encodeURIComponent(token.name)}/credentials`), body);
      const value = updated.credentials.passwords.find((p) => p.name === which.value)?.value;
      if (value) reveal(shownOnce(`${token.name} ${which.value}`, value));
      done();
      return null;
    },
  });
}

// `revealed` outlives the list (which is drawn again after each change), so that a password
// shown once stays on screen.
function tokens(registry: Registry, list: Token[], maps: ScopeMap[], revealed: HTMLElement, refresh: () => void): HTMLElement {
  const reveal = (el: HTMLElement) => replace(revealed, el);
  const create = h("button", { class: "primary", type: "button" }, "Create token");
  create.addEventListener("click", () => createTokenDialog(registry, maps, reveal, refresh));
  const path = (t: Token, suffix = "") => registryPath(registry.name, `/tokens/${encodeURIComponent(t.name)}${suffix}`);
  return h(
    "div",
    { class: "panel" },
    h("div", { class: "row spread" }, h("h2", null, "Tokens"), create),
    list.length === 0
      ? h("p", { class: "muted" }, "No tokens yet.")
      : h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { "aria-label": "Tokens" },
            h("thead", null, h("tr", null, ["Name", "Scope map", "Enabled", "Passwords", "Sign in", ""].map((c) => h("th", { scope: "col" }, c)))),
            h(
              "tbody",
              null,
              list.map((t) => {
                const generate = h("button", { class: "small", type: "button", "aria-label": `Generate a password for ${t.name}` }, "New password");
                generate.addEventListener("click", () => generatePasswordDialog(registry, t, reveal, refresh));
                const remove = h("button", { class: "small danger", type: "button", "aria-label": `Delete token ${t.name}` }, "Delete");
                remove.addEventListener("click", async () => {
                  if (!(await confirmDialog({ title: `Delete token ${t.name}?`, body: h("p", null, "Its passwords stop working at once."), confirm: "Delete", danger: true }))) return;
                  try {
                    await del(path(t));
                    refresh();
                  } catch (err) {
                    reveal(errorBox(err));
                  }
                });
                return h(
                  "tr",
                  null,
                  h("td", null, t.name, h("p", { class: "hint" }, "created ", when(t.creationDate))),
                  h("td", null, t.scopeMapName),
                  h(
                    "td",
                    null,
                    toggle(`Token ${t.name} enabled`, t.status === "enabled", async (on) => {
                      await patch(path(t), { status: on ? "enabled" : "disabled" });
                    }),
                  ),
                  h(
                    "td",
                    null,
                    t.credentials.passwords.length === 0
                      ? h("span", { class: "muted" }, "none")
                      : h("ul", { class: "tree" }, t.credentials.passwords.map((p) => h("li", null, p.name, p.expiry ? ` (expires ${when(p.expiry)})` : ""))),
                  ),
                  h("td", null, loginCommand(registry.loginServer, t.name)),
                  h("td", null, h("div", { class: "row" }, generate, remove)),
                );
              }),
            ),
          ),
        ),
  );
}

export function renderAccess(registry: string, into: HTMLElement): void {
  const admin = h("div");
  const mapsEl = h("div");
  const tokensEl = h("div");
  const tokenSecrets = h("div");
  replace(into, admin, mapsEl, tokenSecrets, tokensEl);
  const load = (): void => {
    void section(admin, "the admin account", () => get<Registry>(registryPath(registry)), (r) => {
      const el = h("div");
      adminAccount(r, el, load);
      return el;
    });
    void section(
      mapsEl,
      "scope maps",
      () => get<ScopeMap[]>(registryPath(registry, "/scope-maps")),
      (maps) => scopeMaps(registry, maps, load),
    );
    void section(
      tokensEl,
      "tokens",
      () =>
        Promise.all([
          get<Registry>(registryPath(registry)),
          get<Token[]>(registryPath(registry, "/tokens")),
          get<ScopeMap[]>(registryPath(registry, "/scope-maps")),
        ]),
      ([r, list, maps]) => tokens(r, list, maps, tokenSecrets, load),
    );
  };
  load();
}
