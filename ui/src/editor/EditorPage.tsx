// The flow editor: the palette of components, the canvas and the YAML side by side, the
// selected job's panel. The YAML text is the one state: the canvas is drawn from it and edits
// it (flowEdits.ts); the server's validator checks it as you type (POST /api/v1/flows/validate,
// the checks of a save and of `coops run`). Save makes a new version; Run saves and starts it.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useNavigate, useParams, useSearchParams } from "react-router";
import { api } from "../api";
import { useSession } from "../session";
import { EditorCanvas, type CanvasEdit } from "./EditorCanvas";
import { addAction, addJob, addStage, moveJob, moveWithin, removeAt, setJobField, setSequencing } from "./flowEdits";
import { flowModel, newFlowText, type FlowModel, type JobModel } from "./flowModel";
import { JobPanel } from "./JobPanel";
import { Palette } from "./Palette";
import type { JsonSchema } from "./schemaKeys";
import { parse, type Value } from "./yamlEdit";
import { YamlEditor, type Problem } from "./YamlEditor";
import "./editor.css";

interface Checked {
  valid: boolean;
  problems: Problem[];
  warnings: Problem[];
}

let schemaCache: Promise<JsonSchema> | undefined;
function flowSchema(): Promise<JsonSchema> {
  schemaCache ??= api<JsonSchema>("/api/v1/flows/schema");
  return schemaCache;
}

/** The newest version's text of the flow named in the route, or a new flow. */
function useInitialText(): { text: string | undefined; error: string | null; version: number | null } {
  const { namespace, repository, name } = useParams();
  const [search] = useSearchParams();
  const [state, setState] = useState<{ text: string | undefined; error: string | null; version: number | null }>({ text: undefined, error: null, version: null });
  useEffect(() => {
    if (!namespace || !repository || !name) {
      let text = newFlowText(search.get("uri") ?? "my/flows/new-flow");
      const component = search.get("component");
      if (component) {
        const base = component.split("/").pop()!.split(":")[0];
        text = addJob(text, ["stages", 1, "actions", 0], { name: base, component }).text;
      }
      setState({ text, error: null, version: null });
      return;
    }
    const base = `/api/v1/flows/${namespace}/${repository}/${name}`;
    api<{ latest_version: number }>(base)
      .then((flow) => api<{ source: string; version: number }>(`${base}/versions/${flow.latest_version}`))
      .then(
        (version) => setState({ text: version.source, error: null, version: version.version }),
        (e: unknown) => setState({ text: undefined, error: e instanceof Error ? e.message : String(e), version: null }),
      );
  }, [namespace, repository, name, search]);
  return state;
}

export default function EditorPage() {
  const initial = useInitialText();
  return initial.error ? <p className="error">{initial.error}</p> : initial.text === undefined ? <p className="muted">Loading…</p> : <Editor initial={initial.text} version={initial.version} />;
}

function Editor({ initial, version }: { initial: string; version: number | null }) {
  const { me } = useSession();
  const navigate = useNavigate();
  const readOnly = me?.scope === "read";
  const [text, setText] = useState(initial);
  const [saved, setSaved] = useState<{ text: string; version: number | null; uri: string | null }>({ text: version === null ? "" : initial, version, uri: null });
  const [checked, setChecked] = useState<Checked | null>(null);
  const [checking, setChecking] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [schema, setSchema] = useState<JsonSchema | null>(null);
  const lastGood = useRef<FlowModel>({ uri: null, stages: [], links: [] });

  useEffect(() => {
    flowSchema().then(setSchema, () => setSchema(null));
  }, []);

  // The model of the text, or (while the YAML does not parse) the last one that did.
  const { model, syntax } = useMemo(() => {
    try {
      lastGood.current = flowModel(text);
      return { model: lastGood.current, syntax: null };
    } catch (error) {
      return { model: lastGood.current, syntax: error instanceof Error ? error.message : String(error) };
    }
  }, [text]);

  // The server's check, 300 ms after the last change.
  useEffect(() => {
    setChecking(true);
    let stale = false;
    const timer = window.setTimeout(() => {
      api<Checked>("/api/v1/flows/validate", { method: "POST", body: text, headers: { "Content-Type": "application/yaml" } }).then(
        (result) => !stale && (setChecked(result), setChecking(false)),
        (e: unknown) => !stale && (setChecked({ valid: false, problems: [{ severity: "error", message: e instanceof Error ? e.message : String(e), line: null, column: null }], warnings: [] }), setChecking(false)),
      );
    }, 300);
    return () => {
      stale = true;
      window.clearTimeout(timer);
    };
  }, [text]);

  const change = useCallback((edit: (current: string) => string) => {
    setText((current) => {
      try {
        return edit(current);
      } catch (error) {
        setMessage(`That change could not be made in the YAML: ${error instanceof Error ? error.message : String(error)}`);
        return current;
      }
    });
  }, []);

  const onEdit = useCallback(
    (edit: CanvasEdit) => {
      setMessage(null);
      change((current) => {
        switch (edit.kind) {
          case "dropComponent": {
            const base = edit.component.split("/").pop()!.split(":")[0];
            const added = addJob(current, edit.action, { name: base, component: edit.component }, edit.index);
            const made = flowModel(added.text);
            const action = made.stages.flatMap((s) => s.actions).find((a) => a.path.join() === edit.action.join());
            const job = action?.jobs[added.index];
            if (job) window.setTimeout(() => setSelected(job.id));
            return added.text;
          }
          case "moveJob":
            return moveJob(current, edit.job, edit.action, edit.index ?? Number.MAX_SAFE_INTEGER);
          case "removeJob":
            return removeAt(current, edit.job);
          case "moveStage":
            return moveWithin(current, edit.stage, Math.max(0, edit.to));
          case "removeStage":
            return removeAt(current, edit.stage);
          case "addAction":
            return addAction(current, edit.stage);
          case "removeAction":
            return removeAt(current, edit.action);
          case "sequencing":
            return setSequencing(current, edit.stage, edit.parallel ? "parallel" : "sequence");
        }
      });
    },
    [change],
  );

  const jobs = model.stages.flatMap((stage) => stage.actions.flatMap((action) => action.jobs));
  const job = jobs.find((j) => j.id === selected) ?? null;
  const values = useCallback((of: JobModel) => ((parse(text).getIn(of.path) as { toJSON(): unknown } | undefined)?.toJSON() ?? {}) as Record<string, unknown>, [text]);

  const problems: Problem[] = syntax
    ? parse(text).errors.map((e) => ({ severity: "error", message: e.message.split("\n")[0], line: e.linePos?.[0].line ?? 1, column: e.linePos?.[0].col ?? 1 }))
    : [...(checked?.problems ?? []), ...(checked?.warnings ?? [])];
  const errors = problems.filter((p) => p.severity === "error");
  const canSave = !readOnly && !checking && !syntax && checked?.valid === true && errors.length === 0;
  const dirty = text !== saved.text;

  const save = async (): Promise<string | null> => {
    const result = await api<{ uri: string; version: number; created: boolean }>("/api/v1/flows", { method: "POST", body: text, headers: { "Content-Type": "application/yaml" } });
    setSaved({ text, version: result.version, uri: result.uri });
    setMessage(result.created ? `Saved ${result.uri} as version ${result.version}.` : `Unchanged: ${result.uri} is version ${result.version}.`);
    return result.uri;
  };
  const act = (what: () => Promise<void>) => () => void what().catch((e: unknown) => setMessage(e instanceof Error ? e.message : String(e)));

  return (
    <section className="editor" data-testid="editor">
      <div className="editor-bar">
        <h1>
          {model.uri ?? "New flow"} {saved.version !== null && <span className="muted small">version {saved.version}{dirty ? ", changed" : ""}</span>}
        </h1>
        <span className="check-state" data-testid="check-state" data-valid={String(canSave)} role="status">
          {syntax ? "YAML syntax error" : checking ? "Checking…" : errors.length ? `${errors.length} problem${errors.length > 1 ? "s" : ""}` : "Valid"}
        </span>
        {!readOnly && (
          <>
            <button type="button" onClick={() => change((t) => addStage(t))}>
              Add stage
            </button>
            <button type="button" disabled={!canSave} onClick={act(async () => void (await save()))}>
              Save
            </button>
            <button
              type="button"
              disabled={!canSave}
              onClick={act(async () => {
                const uri = await save();
                const run = await api<{ id: number }>("/api/v1/runs", { method: "POST", body: JSON.stringify({ flow: uri }) });
                navigate(`/runs/${run.id}`);
              })}
            >
              Run
            </button>
          </>
        )}
      </div>
      {message && (
        <p className="message" role="status" data-testid="editor-message">
          {message}
        </p>
      )}
      <div className="editor-body">
        <Palette readOnly={readOnly} />
        <EditorCanvas model={model} selected={selected} readOnly={readOnly} onEdit={onEdit} onSelect={setSelected} />
        <div className="editor-side">
          {job && (
            <JobPanel
              model={model}
              job={job}
              values={values}
              namespace={model.uri?.split("/")[0] ?? null}
              readOnly={readOnly}
              close={() => setSelected(null)}
              set={(key: string, value: Value | undefined) => {
                change((current) => setJobField(current, job.path, key, value));
                if (key === "name" && typeof value === "string") setSelected(`${job.id.split(".").slice(0, 2).join(".")}.${value}`);
              }}
            />
          )}
          <YamlEditor text={text} problems={problems} schema={schema} onChange={setText} />
          <ul className="problems" data-testid="problems" aria-label="Problems">
            {problems.map((problem, i) => (
              <li key={i} className={problem.severity} data-line={problem.line ?? ""}>
                {problem.line ? `line ${problem.line}${problem.column ? `:${problem.column}` : ""}` : "flow"}: {problem.message}
              </li>
            ))}
          </ul>
        </div>
      </div>
    </section>
  );
}
