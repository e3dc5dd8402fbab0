// What every page shares: breadcrumbs, and the links between pages.
import { h, replace } from "./dom";

export interface Crumb {
  label: string;
  href?: string;
}

export function setCrumbs(items: Crumb[]): void {
  const crumbs = document.getElementById("crumbs") as HTMLElement;
  const parts: (Node | string)[] = [];
  items.forEach((c, i) => {
    if (i > 0) parts.push(h("span", { class: "sep", "aria-hidden": "true" }, "›"));
    const current = i === items.length - 1;
    parts.push(
      c.href && !current
        ? h("a", { href: c.href }, c.label)
        : h("span", current ? { "aria-current": "page" } : null, c.label),
    );
  });
  replace(crumbs, parts);
  document.title = items.length ? `${items[items.length - 1]!.label} · berth` : "berth";
}

const e = encodeURIComponent;
export const links = {
  registries: (): string => "#/",
  registry: (registry: string, tab = ""): string => `#/r/${e(registry)}${tab ? `/${tab}` : ""}`,
  repository: (registry: string, repository: string): string =>
    `#/r/${e(registry)}/repo/${e(repository)}`,
  tag: (registry: string, repository: string, tag: string): string =>
    `#/r/${e(registry)}/repo/${e(repository)}/tag/${e(tag)}`,
  manifest: (registry: string, repository: string, digest: string): string =>
    `#/r/${e(registry)}/repo/${e(repository)}/manifest/${e(digest)}`,
};

// The crumbs of a page within a registry: Registries (operator only) › registry › ...
export function registryCrumbs(registry: string, operator: boolean, ...rest: Crumb[]): Crumb[] {
  const out: Crumb[] = operator ? [{ label: "Registries", href: links.registries() }] : [];
  out.push({ label: registry, href: links.registry(registry) }, ...rest);
  return out;
}
