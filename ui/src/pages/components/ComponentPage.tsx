// A component: its README rendered from Markdown and sanitised (DOMPurify: no script, no
// handler, no javascript: link), its inputs and outputs, examples, every version with its
// deprecation or yank (writers of the namespace change them here), and "use in a new flow".
import DOMPurify from "dompurify";
import { Marked } from "marked";
import { useCallback, useEffect, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { stringify } from "yaml";
import { api, when } from "../../api";
import { useSession } from "../../session";

interface Version {
  version: string;
  digest: string;
  pushed_at: string;
  pushed_by: string | null;
  deprecated: string | null;
  yanked: { reason: string; replacement: string | null } | null;
}

interface Component extends Version {
  namespace: string;
  name: string;
  image: string;
  readme: string;
  spec: {
    title?: string;
    description?: string;
    inputs?: { name: string; type: string; required?: boolean; default?: unknown; description?: string; secret?: boolean; values?: string[] }[];
    outputs?: { name: string; description?: string }[];
    examples?: { name: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }[];
  };
  versions: Version[];
}

/** Raw HTML in a README is shown as the text it is; Markdown alone makes the markup. */
const markdown = new Marked({
  gfm: true,
  renderer: {
    html: ({ text }) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"),
  },
});

/** The README as safe HTML: Markdown rendered (its raw HTML as text), then anything that
 * could still run (a javascript: link) removed by DOMPurify. */
export function readmeHtml(source: string): string {
  const html = markdown.parse(source, { async: false });
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ["style", "form", "input"], FORBID_ATTR: ["style"] });
}

function VersionRow({ version, reference, canWrite, changed }: { version: Version; reference: string; canWrite: boolean; changed: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const mark = (what: "deprecate" | "yank", body: object) =>
    api(`/api/v1/components/${reference}/versions/${version.version}/${what}`, { method: "POST", body: JSON.stringify(body) }).then(changed, (e: unknown) =>
      setError(e instanceof Error ? e.message : String(e)),
    );
  return (
    <tr data-version={version.version} data-state={version.yanked ? "yanked" : version.deprecated ? "deprecated" : "ok"}>
      <td>{version.version}</td>
      <td>{when(version.pushed_at)}</td>
      <td>{version.pushed_by ?? ""}</td>
      <td className="mono small">{version.digest.slice(0, 19)}</td>
      <td>
        {version.yanked && (
          <span className="error">
            yanked: {version.yanked.reason}
            {version.yanked.replacement ? ` (use ${version.yanked.replacement})` : ""}
          </span>
        )}
        {version.deprecated && <span className="warning">deprecated: {version.deprecated}</span>}
        {error && <span className="error">{error}</span>}
      </td>
      {canWrite && (
        <td className="actions">
          {version.deprecated ? (
            <button type="button" onClick={() => void mark("deprecate", { message: null })}>
              Undeprecate
            </button>
          ) : (
            <button type="button" onClick={() => {
              const message = window.prompt(`Why is ${version.version} deprecated?`);
              if (message) void mark("deprecate", { message });
            }}>
              Deprecate
            </button>
          )}
          {version.yanked ? (
            <button type="button" onClick={() => void mark("yank", { reason: null })}>
              Unyank
            </button>
          ) : (
            <button type="button" onClick={() => {
              const reason = window.prompt(`Why must ${version.version} not be used?`);
              if (reason) void mark("yank", { reason });
            }}>
              Yank
            </button>
          )}
        </td>
      )}
    </tr>
  );
}

export default function ComponentPage() {
  const { namespace, name } = useParams();
  const [params] = useSearchParams();
  const { me } = useSession();
  const [component, setComponent] = useState<Component>();
  const [error, setError] = useState<string | null>(null);
  const version = params.get("version");
  const load = useCallback(() => {
    const query = version ? `?version=${encodeURIComponent(version)}` : "";
    api<Component>(`/api/v1/components/${namespace}/${name}${query}`).then(setComponent, (e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, [namespace, name, version]);
  useEffect(load, [load]);
  if (error) return <p className="error">{error}</p>;
  if (!component) return <p className="muted">Loading…</p>;
  const reference = `${component.namespace}/${component.name}`;
  const role = me?.admin ? "admin" : me?.namespaces[component.namespace];
  const canWrite = me?.scope !== "read" && (me?.admin === true || role === "owner" || role === "writer");
  const { spec } = component;
  return (
    <section className="component-page">
      <h1>
        {reference} <span className="muted small">{component.version}</span>
        <Link className="button" to={`/flows/new?component=${encodeURIComponent(`${reference}:${component.version}`)}`}>
          Use in a new flow
        </Link>
      </h1>
      {spec.title && <p>{spec.title}</p>}
      <p className="muted mono small">{component.image}</p>
      <div className="component-columns">
        <article className="readme" data-testid="readme" dangerouslySetInnerHTML={{ __html: readmeHtml(component.readme || spec.description || "") }} />
        <div>
          <h2>Inputs</h2>
          <table className="list" data-testid="inputs">
            <thead>
              <tr><th>Name</th><th>Type</th><th>Default</th><th>Description</th></tr>
            </thead>
            <tbody>
              {(spec.inputs ?? []).map((input) => (
                <tr key={input.name}>
                  <td className="mono">{input.name}{input.required ? " *" : ""}</td>
                  <td>{input.secret ? "secret " : ""}{input.type}{input.values ? `: ${input.values.join(" | ")}` : ""}</td>
                  <td className="mono">{input.default === undefined || input.default === null ? "" : JSON.stringify(input.default)}</td>
                  <td>{input.description}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Outputs</h2>
          <ul>
            {(spec.outputs ?? []).map((output) => (
              <li key={output.name}><span className="mono">{output.name}</span> {output.description}</li>
            ))}
          </ul>
          {spec.examples?.length ? <h2>Examples</h2> : null}
          {spec.examples?.map((example) => (
            <details key={example.name}>
              <summary>{example.name}</summary>
              <pre className="mono small">{stringify({ inputs: example.inputs ?? {}, outputs: example.outputs ?? {} })}</pre>
            </details>
          ))}
        </div>
      </div>
      <h2>Versions</h2>
      <table className="list" data-testid="versions">
        <thead>
          <tr><th>Version</th><th>Pushed</th><th>By</th><th>Digest</th><th>State</th>{canWrite && <th />}</tr>
        </thead>
        <tbody>
          {component.versions.map((v) => (
            <VersionRow key={v.version} version={v} reference={reference} canWrite={canWrite} changed={load} />
          ))}
        </tbody>
      </table>
    </section>
  );
}
