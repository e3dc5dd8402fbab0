// Who is signed in and what they may do: the portal offers only what the session's rights
// allow (the server refuses the rest anyway).
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

// May the session do `action` on `repository`?
export function can(action: Action, repository: string): boolean {
  if (!current) return false;
  return current.permissions.some((p) => p.actions.includes(action) && matches(p.repository, repository));
}

export const isOperator = (): boolean => current?.kind === "operator";
// The operator and a registry's admin account manage the registry: credentials, scope maps,
// tokens, webhooks, usage.
export const managesRegistry = (): boolean => current?.kind === "operator" || current?.kind === "admin";
