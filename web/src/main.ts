// The portal's entry: the session, the hash router, the header (breadcrumbs, who is signed
// in, sign out) and the page for each route.
import { ApiError, del, get, whenSignedOut, type Session } from "./api";
import { h, replace } from "./dom";
import { setCrumbs } from "./layout";
import { renderManifest } from "./pages/manifest";
import { renderRegistries } from "./pages/registries";
import { renderRegistry, type RegistryTab } from "./pages/registry";
import { renderRepository } from "./pages/repository";
import { renderSignIn } from "./pages/signin";
import { listsRegistries, session, setSession } from "./session";

const main = document.getElementById("main") as HTMLElement;
const who = document.getElementById("who") as HTMLElement;

function renderWho(): void {
  const s = session();
  if (!s) {
    replace(who);
    return;
  }
  const label =
    s.kind === "operator"
      ? "operator"
      : s.kind === "principal"
        ? s.identity.replace(/^principal:/, "")
        : `${s.identity} @ ${s.registry}`;
  replace(
    who,
    h("span", { class: "hide-narrow" }, "Signed in as ", h("strong", null, label)),
    h("button", { class: "small", type: "button", on: { click: () => void signOut() } }, "Sign out"),
  );
}

async function signOut(): Promise<void> {
  try {
    await del("/api/v1/session");
  } catch {
    // Ended already: the cookie is gone either way.
  }
  setSession(null);
  go("#/signin");
}

function go(hash: string): void {
  if (location.hash === hash) void route();
  else location.hash = hash;
}

export function signedIn(s: Session): void {
  setSession(s);
  renderWho();
  go(listsRegistries() ? "#/" : `#/r/${encodeURIComponent(s.registry ?? "")}`);
}

// Segments of the hash, each decoded: "#/r/reg/repo/team%2Fapp" -> ["r", "reg", "repo", "team/app"].
// null when the hash is not one the portal makes (a malformed escape).
function segments(): string[] | null {
  const hash = location.hash.replace(/^#\/?/, "");
  try {
    return hash === "" ? [] : hash.split("/").map((s) => decodeURIComponent(s));
  } catch {
    return null;
  }
}

let loaded = false;

async function route(): Promise<void> {
  if (!loaded) {
    try {
      setSession(await get<Session>("/api/v1/session"));
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) {
        replace(main, h("div", { class: "error", role: "alert" }, (err as Error).message));
        return;
      }
      setSession(null);
    }
    loaded = true;
  }
  renderWho();
  const s = session();
  const parts = segments() ?? ["?"];
  if (!s || parts[0] === "signin") {
    if (s && parts[0] === "signin") {
      location.hash = "#/";
      return;
    }
    setCrumbs([{ label: "Sign in" }]);
    renderSignIn(main, signedIn);
    return;
  }
  const [first, registry, kind, repository, sub, ref] = parts;
  if (first === undefined) {
    if (!listsRegistries()) {
      location.replace(`#/r/${encodeURIComponent(s.registry ?? "")}`);
      return;
    }
    renderRegistries(main);
  } else if (first === "r" && registry) {
    if (kind === "repo" && repository) {
      if ((sub === "tag" || sub === "manifest") && ref) {
        renderManifest(main, registry, repository, sub, ref);
      } else {
        renderRepository(main, registry, repository);
      }
    } else {
      const tab = (kind ?? "repositories") as RegistryTab;
      renderRegistry(main, registry, tab);
    }
  } else {
    setCrumbs([{ label: "Not found" }]);
    replace(main, h("p", { class: "error", role: "alert" }, "No such page. ", h("a", { href: "#/" }, "Start again")));
    return;
  }
  main.focus({ preventScroll: true });
}

whenSignedOut(() => {
  if (session()) {
    setSession(null);
    go("#/signin");
  }
});
window.addEventListener("hashchange", () => void route());
// The skip link moves the focus; it is not a route.
document.querySelector<HTMLAnchorElement>("a.skip")?.addEventListener("click", (e) => {
  e.preventDefault();
  main.focus();
});
void route();
