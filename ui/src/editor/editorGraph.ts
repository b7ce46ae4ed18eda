// The flow model as the canvas's nodes: stages left to right; in a stage whose actions run in
// sequence they stand one under another (joined by arrows), in a parallel stage side by side;
// each action's jobs one under another. Data links (subscriptions) are edges between jobs.
import { MarkerType, type Edge, type Node } from "@xyflow/react";
import type { ActionModel, FlowModel, JobModel, StageModel } from "./flowModel";

export const JOB_W = 190;
export const JOB_H = 44;
const GAP = 8;
const PAD = 10;
const HEADER = 30;
const STAGE_HEADER = 58;
const DROP = 34; // room under an action's jobs to drop another
const STAGE_GAP = 60;

export interface StageData extends Record<string, unknown> {
  stage: StageModel;
  index: number;
  count: number;
}
export interface ActionData extends Record<string, unknown> {
  action: ActionModel;
  stage: StageModel;
}
export interface JobNodeData extends Record<string, unknown> {
  job: JobModel;
  selected: boolean;
}

const actionWidth = JOB_W + 2 * PAD;
function actionHeight(action: ActionModel): number {
  return HEADER + action.jobs.length * (JOB_H + GAP) + DROP + PAD;
}

export function editorGraph(model: FlowModel, selected: string | null): { nodes: Node[]; edges: Edge[] } {
  const nodes: Node[] = [];
  const edges: Edge[] = [];
  let x = 0;
  model.stages.forEach((stage, index) => {
    const id = `stage:${stage.path.join(".")}`;
    const parallel = stage.sequencing === "parallel";
    const sizes = stage.actions.map(actionHeight);
    const inner = parallel
      ? { w: Math.max(1, stage.actions.length) * (actionWidth + GAP) - GAP, h: Math.max(0, ...sizes) }
      : { w: actionWidth, h: sizes.reduce((sum, h) => sum + h + 24, 0) - (sizes.length ? 24 : 0) };
    const normal = stage.type === "normal";
    const width = Math.max(inner.w + 2 * PAD, normal ? 240 : 140);
    const height = STAGE_HEADER + inner.h + PAD + (normal ? 0 : 0);
    nodes.push({
      id,
      type: "stage",
      position: { x, y: 0 },
      data: { stage, index, count: model.stages.length } satisfies StageData,
      width,
      height,
      style: { width, height, pointerEvents: "all" }, // a drop target, though not selectable
      draggable: false,
      selectable: false,
    });
    let offset = 0;
    stage.actions.forEach((action, a) => {
      const actionId = `action:${action.path.join(".")}`;
      const position = parallel ? { x: PAD + a * (actionWidth + GAP), y: STAGE_HEADER } : { x: PAD, y: STAGE_HEADER + offset };
      offset += sizes[a] + 24;
      nodes.push({
        id: actionId,
        type: "action",
        parentId: id,
        extent: "parent",
        position,
        data: { action, stage } satisfies ActionData,
        width: actionWidth,
        height: sizes[a],
        style: { width: actionWidth, height: sizes[a], pointerEvents: "all" },
        draggable: false,
        selectable: false,
      });
      if (!parallel && a > 0) {
        edges.push({
          id: `then:${actionId}`,
          source: `action:${stage.actions[a - 1].path.join(".")}`,
          target: actionId,
          sourceHandle: "bottom",
          targetHandle: "top",
          className: "then-edge",
          markerEnd: { type: MarkerType.ArrowClosed },
        });
      }
      action.jobs.forEach((job, j) => {
        nodes.push({
          id: `job:${job.id}`,
          type: "job",
          parentId: actionId,
          extent: "parent",
          position: { x: PAD, y: HEADER + j * (JOB_H + GAP) },
          data: { job, selected: job.id === selected } satisfies JobNodeData,
          width: JOB_W,
          height: JOB_H,
          style: { width: JOB_W, height: JOB_H },
          draggable: false,
        });
      });
    });
    if (index > 0) {
      edges.push({
        id: `stage-edge:${index}`,
        source: `stage:${model.stages[index - 1].path.join(".")}`,
        target: id,
        markerEnd: { type: MarkerType.ArrowClosed },
        className: "stage-edge",
      });
    }
    x += width + STAGE_GAP;
  });
  const ids = new Set(nodes.map((node) => node.id));
  model.links.forEach((link, i) => {
    const source = `job:${link.from}`;
    const target = `job:${link.to}`;
    if (!ids.has(source) || !ids.has(target)) return;
    edges.push({
      id: `link:${i}`,
      source,
      target,
      label: link.output,
      animated: true,
      className: "data-edge",
      markerEnd: { type: MarkerType.ArrowClosed },
      zIndex: 10,
    });
  });
  return { nodes, edges };
}
