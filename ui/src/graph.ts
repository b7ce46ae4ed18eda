// A run's jobs as the nodes of its graph: stages left to right, each stage's actions one
// under another, each action's jobs in the order they run. Positions are computed here
// (a fixed grid), so the same run always draws the same way. Every node is given its size,
// so that the graph library shows it at once instead of waiting to measure it.
import type { Edge, Node } from "@xyflow/react";
import type { Job, Status } from "./api";

/** How both graphs (a run's, the editor's) show: the system's theme, fitted at most at
 * 100 %, nodes placed by us (neither dragged nor connected by hand). */
export const GRAPH_VIEW = {
  colorMode: "system",
  fitView: true,
  fitViewOptions: { maxZoom: 1 },
  minZoom: 0.1,
  nodesDraggable: false,
  nodesConnectable: false,
} as const;

export const JOB_W = 200;
export const JOB_H = 50;
const GAP = 10;
const PAD = 12;
const HEADER = 28;
const STAGE_GAP = 70;

export interface GroupData extends Record<string, unknown> {
  label: string;
  status: Status;
}

export interface JobData extends Record<string, unknown> {
  job: Job;
  name: string;
}

interface Stage {
  name: string;
  actions: Map<string, Job[]>;
}

/** stage.action.job: names have no dots; whatever follows the second dot is the job's name. */
export function splitPath(path: string): [string, string, string] {
  const [stage, action, ...job] = path.split(".");
  return [stage, action ?? "", job.join(".")];
}

/** The state of a group of jobs, as a glance at it should tell. */
export function groupStatus(jobs: Job[]): Status {
  const states = new Set(jobs.map((job) => job.status));
  for (const status of ["failure", "running", "paused", "cancelled", "pending"]) {
    if (states.has(status)) return status;
  }
  if (states.size > 0 && [...states].every((s) => s === "skipped")) return "skipped";
  return states.size > 0 ? "success" : "pending";
}

export function stagesOf(jobs: Job[]): Stage[] {
  const stages = new Map<string, Stage>();
  for (const job of jobs) {
    const [stageName, actionName] = splitPath(job.path);
    let stage = stages.get(stageName);
    if (!stage) stages.set(stageName, (stage = { name: stageName, actions: new Map() }));
    const action = stage.actions.get(actionName) ?? [];
    action.push(job);
    stage.actions.set(actionName, action);
  }
  return [...stages.values()];
}

export function runGraph(jobs: Job[], selected?: string): { nodes: Node[]; edges: Edge[] } {
  const nodes: Node[] = [];
  const edges: Edge[] = [];
  const actionW = JOB_W + 2 * PAD;
  const stageW = actionW + 2 * PAD;
  let previousStage: string | undefined;
  stagesOf(jobs).forEach((stage, index) => {
    const stageId = `stage:${stage.name}`;
    const stageNode: Node<GroupData> = {
      id: stageId,
      type: "stage",
      position: { x: index * (stageW + STAGE_GAP), y: 0 },
      data: { label: stage.name, status: groupStatus([...stage.actions.values()].flat()) },
      width: stageW,
      draggable: false,
      selectable: false,
    };
    nodes.push(stageNode);
    let y = HEADER;
    for (const [actionName, actionJobs] of stage.actions) {
      const actionId = `action:${stage.name}.${actionName}`;
      const height = HEADER + actionJobs.length * (JOB_H + GAP) + PAD - GAP;
      nodes.push({
        id: actionId,
        type: "action",
        parentId: stageId,
        extent: "parent",
        position: { x: PAD, y },
        data: { label: actionName, status: groupStatus(actionJobs) },
        width: actionW,
        height,
        draggable: false,
        selectable: false,
      } satisfies Node<GroupData>);
      actionJobs.forEach((job, position) => {
        nodes.push({
          id: `job:${job.path}`,
          type: "job",
          parentId: actionId,
          extent: "parent",
          position: { x: PAD, y: HEADER + position * (JOB_H + GAP) },
          data: { job, name: splitPath(job.path)[2] },
          width: JOB_W,
          height: JOB_H,
          draggable: false,
          selected: job.path === selected,
        } satisfies Node<JobData>);
      });
      y += height + GAP;
    }
    stageNode.height = y + PAD - GAP;
    if (previousStage) edges.push({ id: `${previousStage}->${stageId}`, source: previousStage, target: stageId });
    previousStage = stageId;
  });
  return { nodes, edges };
}
