// The component repository: search as you type (words matched from their start, as
// `coops component search`), or every component by namespace.
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useComponents } from "../../componentsApi";
import { Listing } from "../../Listing";
import { useNamespace } from "../../namespace";

export function ComponentsList() {
  const [params, setParams] = useSearchParams();
  const [query, setQuery] = useState(params.get("q") ?? "");
  const namespace = useNamespace();
  const { components, error } = useComponents(query, 200, namespace);
  return (
    <section>
      <h1>Components{namespace && <span className="muted"> in {namespace}</span>}</h1>
      <input
        className="search"
        type="search"
        data-search
        placeholder="Search components (name, title, keywords)"
        aria-label="Search components"
        value={query}
        onChange={(event) => {
          setQuery(event.target.value);
          const next = new URLSearchParams(params);
          if (event.target.value) next.set("q", event.target.value);
          else next.delete("q");
          setParams(next, { replace: true });
        }}
      />
      {error && <p className="error">{error}</p>}
      <Listing
        items={components}
        empty={query ? "No component matches." : "No components in the repository yet (coops component push)."}
        testId="components"
        heads={["Component", "Latest", "Title", "Keywords"]}
        row={(component) => (
          <tr key={`${component.namespace}/${component.name}`} data-component={`${component.namespace}/${component.name}`}>
            <td>
              <Link to={`/components/${component.namespace}/${component.name}`}>
                {component.namespace}/{component.name}
              </Link>
            </td>
            <td>{component.latest_version}</td>
            <td>{component.title}</td>
            <td className="muted">{component.keywords.join(", ")}</td>
          </tr>
        )}
      />
    </section>
  );
}
