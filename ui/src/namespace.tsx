// The namespace a person is looking at: `?ns=NAME` in the URL of the listing pages (runs,
// flows, components, operate), so a link says what it shows. The header's switcher sets it,
// and its links carry the last one chosen to the next listing.
import { useEffect, useState, type ReactNode } from "react";
import { NavLink, useLocation, useNavigate, useSearchParams } from "react-router";
import { api, type Whoami } from "./api";
import { usePolling } from "./usePolling";

export interface Namespace {
  name: string;
  /** user | organization | library | flows (a namespace only flows use) */
  kind: string;
  /** the caller's role there: owner | writer | reader, or admin (a site administrator) */
  role: string;
}

export const NS_PARAM = "ns";

/** The pages a namespace filters: the switcher stays on them, and elsewhere goes to runs. */
export function filtersByNamespace(pathname: string): boolean {
  return /^\/(runs|flows|components|operate(\/[a-z]+)?)$/.test(pathname);
}

/** `path` with `?ns=` set to `namespace` (or taken out for null), its other parameters kept. */
export function withNamespace(path: string, namespace: string | null): string {
  const [pathname, search = ""] = path.split("?", 2);
  const params = new URLSearchParams(search);
  if (namespace) params.set(NS_PARAM, namespace);
  else params.delete(NS_PARAM);
  const query = params.toString();
  return query ? `${pathname}?${query}` : pathname;
}

/** The namespace of this page's URL, or null for all of them. */
export function useNamespace(): string | null {
  const [params] = useSearchParams();
  return params.get(NS_PARAM) || null;
}

/** `params` with `namespace=` added when a namespace is chosen (the API's listing filter). */
export function namespaceQuery(params: Record<string, string>, namespace: string | null): URLSearchParams {
  const query = new URLSearchParams(params);
  if (namespace) query.set("namespace", namespace);
  return query;
}

let remembered: string | null = null;

/** A header link that takes the namespace chosen last along to a listing page. */
export function NsLink({ to, end, children }: { to: string; end?: boolean; children: ReactNode }) {
  const here = useNamespace();
  const location = useLocation();
  const current = filtersByNamespace(location.pathname) ? here : remembered;
  return (
    <NavLink to={withNamespace(to, current)} end={end}>
      {children}
    </NavLink>
  );
}

/** Who is signed in, and the namespace switcher. */
export function WhoAndWhere({ me }: { me: Whoami }) {
  const here = useNamespace();
  const location = useLocation();
  const navigate = useNavigate();
  const onListing = filtersByNamespace(location.pathname);
  const [chosen, setChosen] = useState<string | null>(remembered);
  useEffect(() => {
    if (onListing) {
      remembered = here;
      setChosen(here);
    }
  }, [here, onListing]);
  const { data } = usePolling(() => api<{ namespaces: Namespace[] }>("/api/v1/namespaces"), [me.user, me.token], () => false);
  const namespaces = data?.namespaces ?? [];
  const role = chosen ? (namespaces.find((n) => n.name === chosen)?.role ?? "") : "";
  const choose = (name: string) => {
    const next = name || null;
    remembered = next;
    setChosen(next);
    const path = onListing ? location.pathname + location.search : "/runs";
    navigate(withNamespace(path, next));
  };
  return (
    <>
      <label className="switcher">
        <span className="sr-only">Namespace</span>
        <select data-testid="namespace" value={chosen ?? ""} onChange={(e) => choose(e.target.value)}>
          <option value="">All namespaces</option>
          {namespaces.map((n) => (
            <option key={n.name} value={n.name}>
              {n.name} ({n.kind === "flows" ? "" : `${n.kind}, `}
              {n.role})
            </option>
          ))}
          {chosen && !namespaces.some((n) => n.name === chosen) && <option value={chosen}>{chosen}</option>}
        </select>
      </label>
      <span className="who">
        <span data-testid="who">
          {me.user} <span className="muted">({me.scope})</span>
        </span>
        <span className="muted" data-testid="role">
          {me.admin ? " · site administrator" : ""}
          {role && role !== "admin" ? ` · ${role} of ${chosen}` : ""}
        </span>
      </span>
    </>
  );
}
