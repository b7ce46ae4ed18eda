// The component repository as the editor's palette: search as you type, drag a component
// onto an action of the canvas to add a job running it.
import { useEffect, useState } from "react";
import { api } from "../api";
import { COMPONENT_TYPE } from "./EditorCanvas";

export interface ComponentSummary {
  namespace: string;
  name: string;
  latest_version: string;
  title: string;
  description: string;
  keywords: string[];
}

/** Components matching `query` (all of them, by namespace, when it is empty). */
export function useComponents(query: string, limit = 50): { components: ComponentSummary[] | undefined; error: string | null } {
  const [components, setComponents] = useState<ComponentSummary[]>();
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stale = false;
    const timer = window.setTimeout(() => {
      const params = new URLSearchParams({ limit: String(limit) });
      if (query.trim()) params.set("q", query.trim());
      api<{ components: ComponentSummary[] }>(`/api/v1/components?${params}`).then(
        (found) => !stale && (setComponents(found.components), setError(null)),
        (e: unknown) => !stale && setError(e instanceof Error ? e.message : String(e)),
      );
    }, 150);
    return () => {
      stale = true;
      window.clearTimeout(timer);
    };
  }, [query, limit]);
  return { components, error };
}

export function componentRef(component: ComponentSummary): string {
  return `${component.namespace}/${component.name}:${component.latest_version}`;
}

export function Palette({ readOnly }: { readOnly: boolean }) {
  const [query, setQuery] = useState("");
  const { components, error } = useComponents(query);
  return (
    <section className="palette" aria-label="Components">
      <h2>Components</h2>
      <input
        type="search"
        className="search"
        placeholder="Search components"
        aria-label="Search components"
        data-search
        value={query}
        onChange={(event) => setQuery(event.target.value)}
      />
      {error && <p className="error">{error}</p>}
      {components?.length === 0 && <p className="muted">No components{query ? " match" : " in the repository"}.</p>}
      <ul>
        {components?.map((component) => (
          <li
            key={`${component.namespace}/${component.name}`}
            className="palette-item"
            data-component={`${component.namespace}/${component.name}`}
            draggable={!readOnly}
            onDragStart={(event) => {
              event.dataTransfer.setData(COMPONENT_TYPE, componentRef(component));
              event.dataTransfer.effectAllowed = "copy";
            }}
            title={readOnly ? component.description : "Drag onto an action to add a job"}
          >
            <strong>{component.namespace}/{component.name}</strong> <span className="muted small">{component.latest_version}</span>
            <div className="muted small">{component.title}</div>
          </li>
        ))}
      </ul>
    </section>
  );
}
