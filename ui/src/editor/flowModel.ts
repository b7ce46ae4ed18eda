// What the canvas draws of a flow's YAML: stages in order, each stage's actions (run in
// sequence or in parallel), each action's jobs, and the data links (subscriptions) between
// jobs. Read from the text on every change, so the YAML stays the one source of truth; each
// element keeps its place (`path`) in the document for the edits of yamlEdit.ts.
import { isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from "yaml";
import { parse, type Path } from "./yamlEdit";

export interface JobModel {
  name: string;
  path: Path;
  /** stage.action.job, as runs and subscriptions name it */
  id: string;
  component: string | null;
  endpoint: string | null;
  matrix: boolean;
  line: number;
}

export interface ActionModel {
  name: string;
  path: Path;
  jobs: JobModel[];
}

export interface StageModel {
  name: string;
  type: string;
  path: Path;
  sequencing: "sequence" | "parallel";
  actions: ActionModel[];
}

export interface Link {
  from: string;
  to: string;
  output: string;
}

export interface FlowModel {
  uri: string | null;
  stages: StageModel[];
  links: Link[];
}

const SUBSCRIPTION = /^([^.[\]]+)\.([^.[\]]+)\.([^[\]]+)\[([^\]|]+)(?:\|[^\]]*)?\]$/;

function scalar(map: YAMLMap, key: string): string | null {
  const value = map.get(key, true) as Node | undefined;
  return isScalar(value) && value.value !== null ? String(value.value) : null;
}

function items(map: YAMLMap, key: string): Node[] {
  const value = map.get(key, true);
  return isSeq(value) ? (value.items as Node[]) : [];
}

function lineOf(text: string, node: Node): number {
  const at = node.range?.[0] ?? 0;
  let line = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < at; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/** The subscription keys of a job: list items of one pair each, or one mapping. */
function subscriptionKeys(job: YAMLMap): string[] {
  const value = job.get("subscriptions", true);
  const pairs: Pair[] = [];
  if (isMap(value)) pairs.push(...(value.items as Pair[]));
  if (isSeq(value)) for (const item of value.items) if (isMap(item)) pairs.push(...(item.items as Pair[]));
  return pairs.flatMap((pair) => (isScalar(pair.key) ? [String(pair.key.value)] : []));
}

/** The flow's model, or the YAML's syntax error (the canvas then keeps what it drew last). */
export function flowModel(text: string): FlowModel {
  const doc = parse(text);
  if (doc.errors.length > 0) throw new SyntaxError(doc.errors[0].message.split("\n")[0]);
  const root = doc.contents;
  const model: FlowModel = { uri: null, stages: [], links: [] };
  if (!isMap(root)) return model;
  model.uri = scalar(root, "uri");
  items(root, "stages").forEach((stage, s) => {
    if (!isMap(stage)) return;
    const name = scalar(stage, "name") ?? `stage-${s + 1}`;
    const stagePath: Path = ["stages", s];
    const entry: StageModel = {
      name,
      type: scalar(stage, "type") ?? "normal",
      path: stagePath,
      sequencing: scalar(stage, "sequencing") === "parallel" ? "parallel" : "sequence",
      actions: [],
    };
    items(stage, "actions").forEach((action, a) => {
      if (!isMap(action)) return;
      const actionName = scalar(action, "name") ?? `action-${a + 1}`;
      const actionPath: Path = [...stagePath, "actions", a];
      const jobs: JobModel[] = [];
      items(action, "jobs").forEach((job, j) => {
        if (!isMap(job)) return;
        const jobName = scalar(job, "name") ?? `job-${j + 1}` // as the server names it;
        const id = `${name}.${actionName}.${jobName}`;
        jobs.push({
          name: jobName,
          path: [...actionPath, "jobs", j],
          id,
          component: scalar(job, "component"),
          endpoint: scalar(job, "endpoint"),
          matrix: job.has("matrix"),
          line: lineOf(text, job),
        });
        for (const key of subscriptionKeys(job)) {
          const match = SUBSCRIPTION.exec(key);
          if (match) model.links.push({ from: `${match[1]}.${match[2]}.${match[3]}`, to: id, output: match[4] });
        }
      });
      entry.actions.push({ name: actionName, path: actionPath, jobs });
    });
    model.stages.push(entry);
  });
  return model;
}

/** A name not yet taken among `taken`: `base`, else `base-2`, `base-3`... */
export function freeName(base: string, taken: Iterable<string>): string {
  const names = new Set(taken);
  const clean = base.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "") || "job";
  if (!names.has(clean)) return clean;
  for (let n = 2; ; n++) if (!names.has(`${clean}-${n}`)) return `${clean}-${n}`;
}

/** A new flow: its start, one empty stage to drop components into, its end. */
export function newFlowText(uri: string): string {
  return `uri: ${uri}\nstages:\n  - {type: start, name: start}\n  - name: stage-1\n    actions:\n      - name: action-1\n        jobs: []\n  - {type: end, name: end}\n`;
}
