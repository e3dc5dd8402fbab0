// Sign in as a user or service principal of the deployment (what its roles allow), with a
// registry's admin account or token (that registry only), or with the operator token (every
// registry). The server answers with an HttpOnly cookie the page never sees.
import { ApiError, post, type Session } from "../api";
import { field, h, replace } from "../dom";

export function renderSignIn(main: HTMLElement, done: (s: Session) => void): void {
  let mode: "user" | "registry" | "operator" = "user";
  const problem = h("div", { role: "alert" });
  const registry = h("input", { type: "text", autocomplete: "organization", required: true, spellcheck: false });
  const username = h("input", { type: "text", autocomplete: "username", required: true, spellcheck: false });
  const password = h("input", { type: "password", autocomplete: "current-password", required: true });
  const token = h("input", { type: "password", autocomplete: "off", required: true });
  // A user signs in with a name and password; registry credentials also name the registry.
  const registryField = h(
    "div",
    { hidden: true },
    field("signin-registry", "Registry", registry, "Its name, as in <name>.<domain>."),
  );
  const userHint = "Your user name, or a service principal's application id.";
  const registryHint = "The registry's name for its admin account, or a token's name.";
  const credentialFields = h(
    "div",
    null,
    registryField,
    field("signin-username", "User name", username, userHint),
    field("signin-password", "Password", password),
  );
  const operatorFields = h(
    "div",
    { hidden: true },
    field("signin-token", "Token", token, "The content of the server's operator-token file."),
  );
  const submit = h("button", { class: "primary", type: "submit" }, "Sign in");
  // Two radio buttons choose the kind of credentials (arrow keys move between them).
  const choice = (which: typeof mode, label: string) => {
    const input = h("input", { type: "radio", name: "signin-with", value: which, checked: which === mode });
    input.addEventListener("change", () => {
      if (input.checked) select(which);
    });
    return h("label", { class: "inline" }, input, label);
  };
  const choices = h(
    "fieldset",
    { class: "choices" },
    h("legend", null, "Sign in with"),
    choice("user", "User"),
    choice("registry", "Registry credentials"),
    choice("operator", "Operator token"),
  );
  function select(which: typeof mode): void {
    mode = which;
    credentialFields.hidden = which === "operator";
    registryField.hidden = which !== "registry";
    operatorFields.hidden = which !== "operator";
    const hint = document.getElementById("signin-username-hint");
    if (hint) hint.textContent = which === "registry" ? registryHint : userHint;
    registry.required = which === "registry";
    for (const input of [username, password]) input.required = which !== "operator";
    token.required = which === "operator";
    replace(problem);
  }

  const form = h(
    "form",
    { class: "panel", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in to berth"),
    choices,
    credentialFields,
    operatorFields,
    problem,
    h("div", { class: "row" }, submit),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submit.disabled = true;
    replace(problem, h("p", { class: "loading", role: "status" }, "Signing in…"));
    try {
      const body =
        mode === "operator"
          ? { operatorToken: token.value }
          : mode === "user"
            ? { username: username.value.trim(), password: password.value }
            : { registry: registry.value.trim(), username: username.value.trim(), password: password.value };
      const s = await post<Session>("/api/v1/session", body);
      password.value = "";
      token.value = "";
      done(s);
    } catch (err) {
      const message =
        err instanceof ApiError && err.status === 401
          ? mode === "operator"
            ? "That operator token is not right."
            : mode === "user"
              ? "Wrong user name or password."
              : "Wrong registry, user name or password."
          : (err as Error).message;
      replace(problem, h("p", { class: "error" }, message));
    } finally {
      submit.disabled = false;
    }
  });
  replace(main, h("div", { class: "signin" }, form));
  select("user");
  username.focus();
}
