// The canvas's edits of a flow, each one a minimal change of its YAML text (yamlEdit.ts).
import { flowModel, freeName, type StageModel } from "./flowModel";
import { isMap } from "yaml";
import { insertItem, moveItem, parse, removeItem, setKey, type Path, type Value } from "./yamlEdit";

export interface NewJob {
  name: string;
  component?: string;
  endpoint?: string;
  inputs?: Record<string, Value>;
}

function jobValue(job: NewJob): Record<string, Value> {
  const value: Record<string, Value> = { name: job.name };
  if (job.component) value.component = job.component;
  if (job.endpoint) value.endpoint = job.endpoint;
  if (job.inputs && Object.keys(job.inputs).length > 0) value.inputs = job.inputs;
  return value;
}

function stageOf(text: string, stagePath: Path): StageModel {
  const stage = flowModel(text).stages.find((s) => s.path.join(".") === stagePath.join("."));
  if (!stage) throw new Error(`no stage at ${stagePath.join(".")}`);
  return stage;
}

/** Add a job to the action at `actionPath`, at `index` (default: last); its name made unique
 * in the action. Returns the new text and the job's index. */
export function addJob(text: string, actionPath: Path, job: NewJob, index?: number): { text: string; index: number } {
  const action = flowModel(text)
    .stages.flatMap((stage) => stage.actions)
    .find((a) => a.path.join(".") === actionPath.join("."));
  if (!action) throw new Error(`no action at ${actionPath.join(".")}`);
  const at = index ?? action.jobs.length;
  const name = freeName(job.name, action.jobs.map((j) => j.name));
  return { text: insertItem(text, [...actionPath, "jobs"], at, jobValue({ ...job, name })), index: at };
}

export function removeAt(text: string, path: Path): string {
  return removeItem(text, path.slice(0, -1), Number(path[path.length - 1]));
}

/** Move the job at `jobPath` into the action at `actionPath`, at `index`. */
export function moveJob(text: string, jobPath: Path, actionPath: Path, index: number): string {
  return moveItem(text, jobPath.slice(0, -1), Number(jobPath[jobPath.length - 1]), [...actionPath, "jobs"], index);
}

/** Move a stage (or an action inside its stage) from one place of its list to another. */
export function moveWithin(text: string, path: Path, to: number): string {
  return moveItem(text, path.slice(0, -1), Number(path[path.length - 1]), path.slice(0, -1), to);
}

/** A new normal stage with one empty action, placed before the end stage (or last). */
export function addStage(text: string, index?: number): string {
  const stages = flowModel(text).stages;
  const end = stages.findIndex((stage) => stage.type === "end");
  const at = index ?? (end >= 0 ? end : stages.length);
  const normal = stages.filter((stage) => stage.type === "normal").length;
  const name = freeName(`stage-${normal + 1}`, stages.map((s) => s.name));
  return insertItem(text, ["stages"], at, { name, actions: [{ name: "action-1", jobs: [] }] });
}

export function addAction(text: string, stagePath: Path): string {
  const stage = stageOf(text, stagePath);
  const name = freeName(`action-${stage.actions.length + 1}`, stage.actions.map((a) => a.name));
  return insertItem(text, [...stagePath, "actions"], stage.actions.length, { name, jobs: [] });
}

/** A stage's actions side by side (parallel) or one after another (sequence, the default). */
export function setSequencing(text: string, stagePath: Path, sequencing: "sequence" | "parallel"): string {
  return setKey(text, stagePath, "sequencing", sequencing === "parallel" ? "parallel" : undefined);
}

/** Set (or with undefined, remove) one key of a job, or one of its inputs (`inputs.NAME`). */
export function setJobField(text: string, jobPath: Path, key: string, value: Value | undefined): string {
  if (key.startsWith("inputs.")) {
    const input = key.slice("inputs.".length);
    const inputs = parse(text).getIn([...jobPath, "inputs"], true);
    if (isMap(inputs)) return setKey(text, [...jobPath, "inputs"], input, value);
    return value === undefined ? text : setKey(text, jobPath, "inputs", { [input]: value });
  }
  return setKey(text, jobPath, key, value);
}
