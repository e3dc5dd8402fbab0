// A small typed way to build the DOM, and the pieces every page shares: loading and error
// states, copy buttons, confirmation dialogs, switches, sizes and times.

type Child = Node | string | number | null | undefined | false | Child[];
type Props = Record<string, unknown> & {
  class?: string;
  on?: Partial<{ [K in keyof HTMLElementEventMap]: (e: HTMLElementEventMap[K]) => void }>;
};

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (key === "on") {
        for (const [event, handler] of Object.entries(value as object)) {
          el.addEventListener(event, handler as EventListener);
        }
      } else if (key === "class") {
        el.className = String(value);
      } else if (value === true) {
        el.setAttribute(key, "");
      } else if (value !== false && value !== null && value !== undefined) {
        if (key in el && key !== "list" && !key.startsWith("aria-") && key !== "role") {
          (el as unknown as Record<string, unknown>)[key] = value;
        } else {
          el.setAttribute(key, String(value));
        }
      }
    }
  }
  append(el, children);
  return el;
}

function append(el: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

export function loading(what: string): HTMLElement {
  return h("p", { class: "loading", role: "status" }, `Loading ${what}…`);
}

export function errorBox(err: unknown, retry?: () => void): HTMLElement {
  const message = err instanceof Error ? err.message : String(err);
  return h(
    "div",
    { class: "error", role: "alert" },
    message,
    retry ? [" ", h("button", { class: "small", on: { click: retry } }, "Try again")] : null,
  );
}

// Shows `what` while `load` runs, then what `render` makes of its result (or the error, with a
// button that tries again).
export async function section<T>(
  into: HTMLElement,
  what: string,
  load: () => Promise<T>,
  render: (value: T) => Child,
): Promise<void> {
  replace(into, loading(what));
  try {
    const value = await load();
    replace(into, render(value));
  } catch (err) {
    replace(into, errorBox(err, () => void section(into, what, load, render)));
  }
}

export function copyButton(text: string, label: string): HTMLButtonElement {
  const button = h("button", { class: "small", type: "button", "aria-label": label }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      // No clipboard (a page over plain HTTP on another host): select the text instead.
      const range = document.createRange();
      const target = button.previousElementSibling;
      if (target) {
        range.selectNodeContents(target);
        const selection = window.getSelection();
        selection?.removeAllRanges();
        selection?.addRange(range);
      }
      button.textContent = "Selected";
    }
    setTimeout(() => (button.textContent = "Copy"), 1500);
  });
  return button;
}

export function copyable(text: string, label: string): HTMLElement {
  return h("span", { class: "secret" }, h("code", null, text), copyButton(text, label));
}

// A modal dialog; resolves with true when confirmed. With `typeToConfirm`, the confirm button
// stays disabled until that exact text is typed.
export function confirmDialog(options: {
  title: string;
  body: Child;
  confirm: string;
  danger?: boolean;
  typeToConfirm?: string;
}): Promise<boolean> {
  return new Promise((resolve) => {
    const confirmButton = h(
      "button",
      { class: options.danger ? "danger solid" : "primary", type: "submit", value: "yes" },
      options.confirm,
    );
    let typed: HTMLInputElement | null = null;
    if (options.typeToConfirm !== undefined) {
      confirmButton.disabled = true;
      typed = h("input", { type: "text", id: "confirm-text", autocomplete: "off" });
      typed.addEventListener("input", () => {
        confirmButton.disabled = typed!.value !== options.typeToConfirm;
      });
    }
    const titleId = `dialog-${Math.random().toString(36).slice(2)}`;
    const dialog = h(
      "dialog",
      { "aria-labelledby": titleId },
      h(
        "form",
        { method: "dialog" },
        h("h2", { id: titleId }, options.title),
        h("div", null, options.body),
        typed
          ? [
              h("label", { for: "confirm-text" }, `Type ${options.typeToConfirm} to confirm`),
              typed,
            ]
          : null,
        h(
          "div",
          { class: "actions" },
          h("button", { type: "submit", value: "no" }, "Cancel"),
          confirmButton,
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "yes");
      dialog.remove();
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    (typed ?? confirmButton).focus();
  });
}

// A dialog around a form; `submit` returns an error message to show, or null to close.
export function formDialog(options: {
  title: string;
  fields: Child;
  submit: string;
  onSubmit: (form: HTMLFormElement) => Promise<string | null>;
}): HTMLDialogElement {
  const titleId = `dialog-${Math.random().toString(36).slice(2)}`;
  const problem = h("div", { role: "alert" });
  const submitButton = h("button", { class: "primary", type: "submit" }, options.submit);
  const form = h(
    "form",
    null,
    h("h2", { id: titleId }, options.title),
    options.fields,
    problem,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", on: { click: () => dialog.close() } }, "Cancel"),
      submitButton,
    ),
  );
  const dialog = h("dialog", { "aria-labelledby": titleId }, form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submitButton.disabled = true;
    replace(problem, h("p", { class: "loading", role: "status" }, "Working…"));
    try {
      const message = await options.onSubmit(form);
      if (message === null) {
        dialog.close();
      } else {
        replace(problem, h("p", { class: "field-error" }, message));
      }
    } catch (err) {
      replace(problem, errorBox(err));
    } finally {
      submitButton.disabled = false;
    }
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.appendChild(dialog);
  dialog.showModal();
  return dialog;
}

// A labelled on/off switch whose change runs `change`; it goes back when that fails.
export function toggle(
  label: string,
  checked: boolean,
  change: ((on: boolean) => Promise<void>) | null,
): HTMLElement {
  const input = h("input", { type: "checkbox", role: "switch", checked, disabled: change === null });
  const status = h("span", { class: "field-error", role: "alert" });
  if (change) {
    input.addEventListener("change", async () => {
      input.disabled = true;
      status.textContent = "";
      try {
        await change(input.checked);
      } catch (err) {
        input.checked = !input.checked;
        status.textContent = err instanceof Error ? err.message : String(err);
      } finally {
        input.disabled = false;
      }
    });
  }
  return h("span", null, h("label", { class: "inline" }, input, label), status);
}

export function field(
  id: string,
  label: string,
  input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  hint?: string,
): HTMLElement[] {
  input.id = id;
  const out: HTMLElement[] = [h("label", { for: id }, label), input];
  if (hint) {
    const hintEl = h("p", { class: "hint", id: `${id}-hint` }, hint);
    input.setAttribute("aria-describedby", hintEl.id);
    out.push(hintEl);
  }
  return out;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function shortDigest(digest: string): string {
  const hex = digest.split(":")[1] ?? digest;
  return `${digest.split(":")[0]}:${hex.slice(0, 12)}`;
}

export function usageBar(used: number, limit: number | null, label: string): HTMLElement {
  const share = limit ? Math.min(1, used / limit) : 0;
  // Through the CSSOM: the Content-Security-Policy refuses style attributes.
  const fill = h("span");
  fill.style.width = `${(share * 100).toFixed(1)}%`;
  return h(
    "div",
    {
      class: share >= 0.9 ? "bar high" : "bar",
      role: "meter",
      "aria-label": label,
      "aria-valuemin": 0,
      "aria-valuemax": limit ?? 0,
      "aria-valuenow": used,
    },
    fill,
  );
}
