// Who is signed in and what they may do: the portal offers only what the session's rights
// allow (the server refuses the rest anyway). A token's rights are its scope map's; a person's
// or service principal's follow from its roles (docs/control-api.md, "Principals and roles").
import type { Session } from "./api";

let current: Session | null = null;

export function session(): Session | null {
  return current;
}
export function setSession(s: Session | null): void {
  current = s;
}

// The scope map's pattern rules: `team/app` exact, `team/*` everything below team/, `*` all.
function matches(pattern: string, repository: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("/*")) {
    const prefix = pattern.slice(0, -1);
    return repository.length > prefix.length && repository.startsWith(prefix);
  }
  return pattern === repository;
}

export type Action =
  | "content/read"
  | "content/write"
  | "content/delete"
  | "metadata/read"
  | "metadata/write";

const READ: Action[] = ["content/read", "metadata/read"];
const ALL: Action[] = ["content/read", "content/write", "content/delete", "metadata/read", "metadata/write"];
// What each role grants: its actions on the repositories it covers, whether it sees the
// registry's settings (usage, tokens) and whether it changes them.
const ROLES: Record<string, { actions: Action[]; sees: boolean; changes: boolean }> = {
  AcrPull: { actions: READ, sees: false, changes: false },
  AcrPush: { actions: [...READ, "content/write"], sees: false, changes: false },
  AcrDelete: { actions: ["content/delete", "metadata/read"], sees: false, changes: false },
  Reader: { actions: READ, sees: true, changes: false },
  Contributor: { actions: ALL, sees: true, changes: true },
  Owner: { actions: ALL, sees: true, changes: true },
};

// A principal's roles that reach `registry`: the repository pattern each covers ("*" for the
// deployment or the whole registry).
function rolesIn(registry: string): { role: string; pattern: string }[] {
  const out: { role: string; pattern: string }[] = [];
  for (const a of current?.roles ?? []) {
    if (a.scope === "/" || a.scope === `/registries/${registry}`) out.push({ role: a.role, pattern: "*" });
    const prefix = `/registries/${registry}/repositories/`;
    if (a.scope.startsWith(prefix)) out.push({ role: a.role, pattern: a.scope.slice(prefix.length) });
  }
  return out;
}

// A principal's rights over the registry itself, from roles at "/" or the whole registry.
function registryRight(registry: string, right: "sees" | "changes"): boolean {
  return rolesIn(registry).some((r) => r.pattern === "*" && ROLES[r.role]?.[right] === true);
}

// May the session do `action` on `repository` of `registry`?
export function can(action: Action, registry: string, repository: string): boolean {
  if (!current) return false;
  if (current.kind === "principal") {
    return rolesIn(registry).some((r) => ROLES[r.role]?.actions.includes(action) && matches(r.pattern, repository));
  }
  return current.permissions.some((p) => p.actions.includes(action) && matches(p.repository, repository));
}

export const isOperator = (): boolean => current?.kind === "operator";
const isPrincipal = (): boolean => current?.kind === "principal";
// The operator and principals see a list of registries (a principal, those its roles reach).
export const listsRegistries = (): boolean => isOperator() || isPrincipal();
// Who creates registries: the operator, and Contributors and Owners of the deployment.
export const createsRegistries = (): boolean =>
  isOperator() || (current?.roles ?? []).some((a) => a.scope === "/" && ROLES[a.role]?.changes === true);
// Who reads the registry's own record (login server, SKU): all but a token.
export const readsRegistry = (): boolean => current !== null && current.kind !== "token";
// Who sees the registry's usage: the operator, its admin account, Readers and above.
export const seesRegistry = (registry: string): boolean =>
  isOperator() || current?.kind === "admin" || (isPrincipal() && registryRight(registry, "sees"));
// Who manages its access (credentials, scope maps, tokens): the operator, its admin account,
// Contributors and Owners.
export const managesRegistry = (registry: string): boolean =>
  isOperator() || current?.kind === "admin" || (isPrincipal() && registryRight(registry, "changes"));
// Who changes its settings (plan, quota, admin account) and deletes it: the operator,
// Contributors and Owners.
export const changesRegistry = (registry: string): boolean =>
  isOperator() || (isPrincipal() && registryRight(registry, "changes"));
