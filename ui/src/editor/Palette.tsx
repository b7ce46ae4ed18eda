// The component repository as the editor's palette: search as you type, drag a component
// onto an action of the canvas to add a job running it.
import { useState } from "react";
import { componentRef, useComponents } from "../componentsApi";
import { COMPONENT_TYPE } from "./EditorCanvas";

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
