// The component repository through the API (GET /api/v1/components): the palette of the
// editor and the components page both search it as a person types.
import { useEffect, useState } from "react";
import { api } from "./api";

export interface ComponentSummary {
  namespace: string;
  name: string;
  latest_version: string;
  title: string;
  description: string;
  keywords: string[];
}

/** Components matching `query` (all of them, by namespace, when it is empty). */
export function useComponents(
  query: string,
  limit = 50,
  namespace: string | null = null,
): { components: ComponentSummary[] | undefined; error: string | null } {
  const [components, setComponents] = useState<ComponentSummary[]>();
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stale = false;
    const timer = window.setTimeout(() => {
      const params = new URLSearchParams({ limit: String(limit) });
      if (query.trim()) params.set("q", query.trim());
      if (namespace) params.set("namespace", namespace);
      api<{ components: ComponentSummary[] }>(`/api/v1/components?${params}`).then(
        (found) => !stale && (setComponents(found.components), setError(null)),
        (e: unknown) => !stale && setError(e instanceof Error ? e.message : String(e)),
      );
    }, 150);
    return () => {
      stale = true;
      window.clearTimeout(timer);
    };
  }, [query, limit, namespace]);
  return { components, error };
}

export function componentRef(component: ComponentSummary): string {
  return `${component.namespace}/${component.name}:${component.latest_version}`;
}
