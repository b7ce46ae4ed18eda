// The side panel of the selected job: a form generated from its component's spec (typed
// inputs, enums as choices, secret inputs picked among the namespace's secrets, defaults
// shown), then timeout, retries, when, resources, and subscriptions to the outputs earlier
// jobs declare. Every change is an edit of the YAML (flowEdits.setJobField).
import { useEffect, useState } from "react";
import { api } from "../api";
import type { FlowModel, JobModel } from "./flowModel";
import type { Value } from "./yamlEdit";

interface InputSpec {
  name: string;
  type: string;
  required?: boolean;
  default?: unknown;
  description?: string;
  secret?: boolean;
  values?: string[] | null;
}

interface Spec {
  title?: string;
  inputs?: InputSpec[];
  outputs?: { name: string; description?: string }[];
}

type JobValues = Record<string, unknown> & { inputs?: Record<string, unknown>; subscriptions?: unknown };

function useSpec(component: string | null): { spec: Spec | null; error: string | null } {
  const [found, setFound] = useState<{ spec: Spec | null; error: string | null }>({ spec: null, error: null });
  useEffect(() => {
    setFound({ spec: null, error: null });
    if (!component) return;
    const match = /^([^/]+)\/([^:]+)(?::(.+))?$/.exec(component);
    if (!match) return;
    const query = match[3] ? `?version=${encodeURIComponent(match[3])}` : "";
    let stale = false;
    api<{ spec: Spec }>(`/api/v1/components/${match[1]}/${match[2]}${query}`).then(
      (loaded) => !stale && setFound({ spec: loaded.spec, error: null }),
      (e: unknown) => !stale && setFound({ spec: null, error: e instanceof Error ? e.message : String(e) }),
    );
    return () => {
      stale = true;
    };
  }, [component]);
  return found;
}

function useSecrets(namespace: string | null): string[] | null {
  const [names, setNames] = useState<string[] | null>(null);
  useEffect(() => {
    if (!namespace) return;
    api<{ name: string }[]>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`).then(
      (rows) => setNames(rows.map((row) => row.name)),
      () => setNames(null), // not an admin of the namespace: the value is typed instead
    );
  }, [namespace]);
  return names;
}

function text(value: unknown): string {
  if (value === undefined || value === null) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

const SECRET = /^\$\{\{\s*secrets\.([A-Za-z0-9_]+)\s*\}\}$/;

function InputField(props: { input: InputSpec; value: unknown; secrets: string[] | null; set: (value: Value | undefined) => void }) {
  const { input, value, set } = props;
  const id = `input-${input.name}`;
  const placeholder = input.default !== undefined && input.default !== null ? `default: ${text(input.default)}` : input.required ? "required" : "";
  let field;
  if (input.secret) {
    const chosen = SECRET.exec(text(value))?.[1] ?? "";
    field = props.secrets ? (
      <select id={id} value={chosen} onChange={(e) => set(e.target.value ? `\${{ secrets.${e.target.value} }}` : undefined)}>
        <option value="">{placeholder || "choose a secret"}</option>
        {props.secrets.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
    ) : (
      <input id={id} value={text(value)} placeholder="${{ secrets.NAME }}" onChange={(e) => set(e.target.value || undefined)} />
    );
  } else if (input.type === "enum" && input.values) {
    field = (
      <select id={id} value={text(value)} onChange={(e) => set(e.target.value || undefined)}>
        <option value="">{placeholder || "choose"}</option>
        {input.values.map((choice) => (
          <option key={choice} value={choice}>
            {choice}
          </option>
        ))}
      </select>
    );
  } else if (input.type === "boolean") {
    field = (
      <select id={id} value={value === undefined ? "" : String(value)} onChange={(e) => set(e.target.value === "" ? undefined : e.target.value === "true")}>
        <option value="">{placeholder || "unset"}</option>
        <option value="true">true</option>
        <option value="false">false</option>
      </select>
    );
  } else if (input.type === "integer" || input.type === "number") {
    field = <input id={id} type="number" value={text(value)} placeholder={placeholder} onChange={(e) => set(e.target.value === "" ? undefined : Number(e.target.value))} />;
  } else {
    field = <textarea id={id} rows={text(value).includes("\n") ? 4 : 2} value={text(value)} placeholder={placeholder} onChange={(e) => set(e.target.value === "" ? undefined : e.target.value)} />;
  }
  return (
    <div className="field" data-input={input.name}>
      <label htmlFor={id}>
        {input.name}
        {input.required ? " *" : ""} <span className="muted small">{input.secret ? "secret" : input.type}</span>
      </label>
      {field}
      {input.description && <div className="muted small">{input.description}</div>}
    </div>
  );
}

/** Outputs of the jobs that run before `job` (earlier stages): "stage.action.job[KEY]". */
function earlierOutputs(model: FlowModel, job: JobModel, values: (job: JobModel) => JobValues): string[] {
  const stageIndex = model.stages.findIndex((stage) => stage.actions.some((action) => action.jobs.some((j) => j.id === job.id)));
  return model.stages.slice(0, Math.max(stageIndex, 0)).flatMap((stage) =>
    stage.actions.flatMap((action) =>
      action.jobs.flatMap((earlier) => {
        const outputs = values(earlier).outputs;
        return Array.isArray(outputs) ? outputs.map((key) => `${earlier.id}[${String(key)}]`) : [];
      }),
    ),
  );
}

export function JobPanel(props: {
  model: FlowModel;
  job: JobModel;
  values: (job: JobModel) => JobValues;
  namespace: string | null;
  readOnly: boolean;
  set: (key: string, value: Value | undefined) => void;
  close: () => void;
}) {
  const { job, set } = props;
  const values = props.values(job);
  const { spec, error } = useSpec(job.component);
  const secrets = useSecrets(spec?.inputs?.some((input) => input.secret) ? props.namespace : null);
  const inputs = values.inputs ?? {};
  const entries: Record<string, Value>[] = Array.isArray(values.subscriptions)
    ? (values.subscriptions as Record<string, Value>[]).filter((entry) => entry !== null)
    : Object.entries((values.subscriptions as Record<string, Value>) ?? {}).map(([key, value]) => ({ [key]: value }));
  const subscriptions = entries.flatMap((entry) => Object.keys(entry));
  const offered = earlierOutputs(props.model, job, props.values);
  const field = (key: string, label: string, hint: string) => (
    <div className="field">
      <label htmlFor={`job-${key}`}>{label}</label>
      <input id={`job-${key}`} value={text(values[key])} placeholder={hint} onChange={(e) => set(key, e.target.value === "" ? undefined : e.target.value)} />
    </div>
  );
  return (
    <section className="job-panel" aria-label={`Job ${job.id}`} data-testid="job-panel">
      <header>
        <h2>{job.id}</h2>
        <button type="button" onClick={props.close} aria-label="Close the job's panel">
          ✕
        </button>
      </header>
      <fieldset disabled={props.readOnly}>
        {field("name", "Name", "job-1")}
        {job.component && <p className="muted small">Component {job.component}{spec?.title ? `: ${spec.title}` : ""}</p>}
        {error && <p className="error">{error}</p>}
        {spec?.inputs?.length ? <h3>Inputs</h3> : null}
        {spec?.inputs?.map((input) => (
          <InputField key={input.name} input={input} value={inputs[input.name]} secrets={secrets} set={(value) => set(`inputs.${input.name}`, value)} />
        ))}
        <h3>Run</h3>
        {field("timeout", "Timeout", "e.g. 10m")}
        <div className="field">
          <label htmlFor="job-retries">Retries</label>
          <input id="job-retries" type="number" min={0} value={typeof values.retries === "number" ? values.retries : ""} placeholder="0" onChange={(e) => set("retries", e.target.value === "" ? undefined : Number(e.target.value))} />
        </div>
        <div className="field">
          <label htmlFor="job-when">When</label>
          <select id="job-when" value={text(values.when)} onChange={(e) => set("when", e.target.value || undefined)}>
            <option value="">on_success (default)</option>
            <option value="on_failure">on_failure</option>
            <option value="always">always</option>
          </select>
        </div>
        {offered.length > 0 && (
          <>
            <h3>Subscriptions</h3>
            {offered.map((key) => {
              const on = subscriptions.includes(key);
              const env = key.slice(key.indexOf("[") + 1, -1);
              return (
                <label key={key} className="check">
                  <input
                    type="checkbox"
                    checked={on}
                    onChange={() => {
                      const kept = entries.filter((entry) => !(key in entry));
                      const next = on ? kept : [...kept, { [key]: env }];
                      set("subscriptions", next.length ? next : undefined);
                    }}
                  />{" "}
                  {key} as ${env}
                </label>
              );
            })}
          </>
        )}
      </fieldset>
    </section>
  );
}
