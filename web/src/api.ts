// The portal's only way out: JSON requests to /api/v1 on this origin, signed in by the
// HttpOnly session cookie, each with the X-Berth-Request header the server demands of cookie
// requests (its CSRF guard).

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RoleAssignment {
  id: string;
  assignee: string;
  role: string;
  scope: string;
}

export interface Session {
  kind: "operator" | "admin" | "token" | "principal";
  identity: string;
  registry: string | null;
  loginServer: string | null;
  expiresAt: string | null;
  permissions: { repository: string; actions: string[] }[];
  roles?: RoleAssignment[]; // a principal's
}

export interface Registry {
  name: string;
  loginServer: string;
  sku: { name: string; tier: string };
  adminUserEnabled: boolean;
  anonymousPullEnabled: boolean;
  auditPullsEnabled?: boolean;
  storagePath: string;
  quota: { storageBytes: number };
  creationDate: string;
}

export interface UsageEntry {
  name: string;
  limit: number | null;
  currentValue: number;
  unit: string;
}

export interface Attributes {
  deleteEnabled: boolean;
  writeEnabled: boolean;
  readEnabled?: boolean;
  listEnabled?: boolean;
}

export interface Repository {
  registry: string;
  imageName: string;
  createdTime: string;
  lastUpdateTime: string;
  manifestCount: number;
  tagCount: number;
  changeableAttributes: Attributes;
}

export interface Tag {
  name: string;
  digest: string;
  size: number;
  createdTime: string;
  lastUpdateTime: string;
  changeableAttributes: Attributes;
}

export interface Platform {
  os: string;
  architecture: string;
  variant: string | null;
  osVersion: string | null;
  digest: string | null;
}

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string; "os.version"?: string };
}

export interface ImageManifestDocument {
  schemaVersion?: number;
  mediaType?: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageConfig {
  created?: string;
  architecture?: string;
  os?: string;
  "os.version"?: string;
  config?: {
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Env?: string[] | null;
    Labels?: Record<string, string> | null;
    WorkingDir?: string;
    User?: string;
    ExposedPorts?: Record<string, unknown> | null;
  };
}

export interface Manifest {
  digest: string;
  mediaType: string;
  artifactType: string | null;
  size: number;
  createdTime: string;
  tags: string[];
  platforms: Platform[];
  referrers: { digest: string; artifactType: string | null }[];
  changeableAttributes: Attributes;
  manifest?: ImageManifestDocument | null;
  config?: ImageConfig | null;
}

export interface ScopeMap {
  name: string;
  description: string;
  actions: string[];
  type?: string;
  creationDate?: string;
}

export interface TokenPassword {
  name: string;
  value: string | null;
  expiry: string | null;
  creationTime?: string;
}

export interface Token {
  name: string;
  scopeMapName: string;
  status: "enabled" | "disabled";
  creationDate: string;
  credentials: { passwords: TokenPassword[] };
}

export interface Credentials {
  username: string;
  passwords: { name: string; value: string | null }[];
}

export interface Webhook {
  name: string;
  serviceUri: string;
  status: string;
  actions: string[];
  scopes: string[];
  creationDate: string;
}

export interface GcStatus {
  lastRun: null | {
    started: string;
    finished: string;
    blobsRemoved: number;
    bytesRemoved: number;
    error: string | null;
  };
}

export interface TagHistoryEntry {
  id: number;
  action: "created" | "moved" | "deleted" | "restored";
  fromDigest: string | null;
  toDigest: string | null;
  identity: string;
  source: string;
  time: string;
}

// What reached the server but came back as an error: its JSON message, or the status.
async function failure(resp: Response): Promise<ApiError> {
  try {
    const body = (await resp.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.message) {
      return new ApiError(resp.status, body.error.code ?? "", body.error.message);
    }
  } catch {
    // not JSON: fall through
  }
  return new ApiError(resp.status, "", `${resp.status} ${resp.statusText}`);
}

let onSignedOut: (() => void) | null = null;
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

export interface Answer<T> {
  data: T;
  next: string | null; // the Link rel="next" target, when there is one
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const headers: Record<string, string> = { "X-Berth-Request": "portal", Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp: Response;
  try {
    resp = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      cache: "no-store",
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "", "The server cannot be reached. Check the connection and try again.");
  }
  if (!resp.ok) {
    const err = await failure(resp);
    if (resp.status === 401 && path !== "/api/v1/session") onSignedOut?.();
    throw err;
  }
  const next = /<([^>]+)>;\s*rel="next"/.exec(resp.headers.get("Link") ?? "")?.[1] ?? null;
  if (resp.status === 204) return { data: undefined as T, next };
  return { data: (await resp.json()) as T, next };
}

export async function get<T>(path: string): Promise<T> {
  return (await request<T>("GET", path)).data;
}
export async function post<T>(path: string, body: unknown = {}): Promise<T> {
  return (await request<T>("POST", path, body)).data;
}
export async function patch<T>(path: string, body: unknown): Promise<T> {
  return (await request<T>("PATCH", path, body)).data;
}
export async function del(path: string): Promise<void> {
  await request<void>("DELETE", path);
}

export const enc = encodeURIComponent;
// Repository names keep their slashes in paths.
export function repoPath(registry: string, repository: string, suffix = ""): string {
  return `/api/v1/registries/${enc(registry)}/repositories/${repository
    .split("/")
    .map(enc)
    .join("/")}${suffix}`;
}
export function registryPath(registry: string, suffix = ""): string {
  return `/api/v1/registries/${enc(registry)}${suffix}`;
}
