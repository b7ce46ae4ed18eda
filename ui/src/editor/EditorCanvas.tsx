// The editor's canvas: the flow drawn from its YAML (editorGraph.ts), and every change made on
// it by drag and drop or its buttons handed to the page as an edit of the YAML.
import { Background, Controls, Handle, Position, ReactFlow, type Node, type NodeProps, type ReactFlowInstance } from "@xyflow/react";
import { createContext, useContext, useEffect, useMemo, useRef, type DragEvent } from "react";
import { GRAPH_VIEW } from "../graph";
import { editorGraph, type ActionData, type JobNodeData, type StageData } from "./editorGraph";
import type { FlowModel } from "./flowModel";
import type { Path } from "./yamlEdit";

export const COMPONENT_TYPE = "application/x-coops-component";
const JOB_TYPE = "application/x-coops-job";
const STAGE_TYPE = "application/x-coops-stage";

/** What a drop or a button asks of the page. */
export type CanvasEdit =
  | { kind: "dropComponent"; action: Path; index?: number; component: string }
  | { kind: "moveJob"; job: Path; action: Path; index?: number }
  | { kind: "removeJob"; job: Path }
  | { kind: "moveStage"; stage: Path; to: number }
  | { kind: "removeStage"; stage: Path }
  | { kind: "addAction"; stage: Path }
  | { kind: "removeAction"; action: Path }
  | { kind: "sequencing"; stage: Path; parallel: boolean };

interface Handlers {
  edit(change: CanvasEdit): void;
  select(jobId: string | null): void;
  readOnly: boolean;
}
const CanvasContext = createContext<Handlers>({ edit: () => {}, select: () => {}, readOnly: true });

function accepts(event: DragEvent, ...types: string[]): boolean {
  return types.some((type) => event.dataTransfer.types.includes(type));
}

/** Turn a drop of a component or a job onto an action (before job `index`) into an edit. */
function dropInto(event: DragEvent, action: Path, index: number | undefined, edit: Handlers["edit"]): void {
  const component = event.dataTransfer.getData(COMPONENT_TYPE);
  const job = event.dataTransfer.getData(JOB_TYPE);
  if (!component && !job) return;
  event.preventDefault();
  event.stopPropagation();
  if (component) edit({ kind: "dropComponent", action, index, component });
  else edit({ kind: "moveJob", job: JSON.parse(job) as Path, action, index });
}

function over(event: DragEvent, ...types: string[]): void {
  if (!accepts(event, ...types)) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = event.dataTransfer.types.includes(COMPONENT_TYPE) ? "copy" : "move";
}

function StageNode({ data }: NodeProps<Node<StageData>>) {
  const { edit, readOnly } = useContext(CanvasContext);
  const { stage, index, count } = data;
  const normal = stage.type === "normal";
  return (
    <div
      className={`editor-stage type-${stage.type} ${stage.sequencing}`}
      data-stage={stage.name}
      onDragOver={(event) => over(event, STAGE_TYPE)}
      onDrop={(event) => {
        const from = event.dataTransfer.getData(STAGE_TYPE);
        if (!from) return;
        event.preventDefault();
        edit({ kind: "moveStage", stage: ["stages", Number(from)], to: index > Number(from) ? index + 1 : index });
      }}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <div
        className="stage-head nodrag nopan"
        draggable={!readOnly}
        onDragStart={(event) => {
          event.dataTransfer.setData(STAGE_TYPE, String(index));
          event.dataTransfer.effectAllowed = "move";
        }}
        title="Drag onto another stage to move it there"
      >
        <span className="stage-name">{stage.name}</span>
        <span className="muted small">{stage.type === "normal" ? (stage.sequencing === "parallel" ? "parallel" : "in sequence") : stage.type}</span>
        {!readOnly && (
          <span className="stage-tools">
            <button type="button" aria-label={`Move stage ${stage.name} left`} disabled={index === 0} onClick={() => edit({ kind: "moveStage", stage: stage.path, to: index - 1 })}>
              ◀
            </button>
            <button type="button" aria-label={`Move stage ${stage.name} right`} disabled={index === count - 1} onClick={() => edit({ kind: "moveStage", stage: stage.path, to: index + 2 })}>
              ▶
            </button>
            {normal && (
              <button
                type="button"
                aria-label={`Run the actions of ${stage.name} ${stage.sequencing === "parallel" ? "in sequence" : "in parallel"}`}
                onClick={() => edit({ kind: "sequencing", stage: stage.path, parallel: stage.sequencing !== "parallel" })}
              >
                {stage.sequencing === "parallel" ? "⇉" : "↓"}
              </button>
            )}
            {normal && (
              <button type="button" aria-label={`Add an action to ${stage.name}`} onClick={() => edit({ kind: "addAction", stage: stage.path })}>
                +
              </button>
            )}
            <button type="button" aria-label={`Remove stage ${stage.name}`} onClick={() => edit({ kind: "removeStage", stage: stage.path })}>
              ✕
            </button>
          </span>
        )}
      </div>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
}

function ActionNode({ data }: NodeProps<Node<ActionData>>) {
  const { edit, readOnly } = useContext(CanvasContext);
  const { action } = data;
  return (
    <div
      className="editor-action"
      data-action={`${data.stage.name}.${action.name}`}
      onDragOver={(event) => over(event, COMPONENT_TYPE, JOB_TYPE)}
      onDrop={(event) => dropInto(event, action.path, undefined, edit)}
    >
      <Handle type="target" id="top" position={Position.Top} isConnectable={false} />
      <div className="action-head">
        <span>{action.name}</span>
        {!readOnly && (
          <button type="button" className="icon nodrag" aria-label={`Remove action ${action.name}`} onClick={() => edit({ kind: "removeAction", action: action.path })}>
            ✕
          </button>
        )}
      </div>
      {!readOnly && <div className="drop-hint">{action.jobs.length ? "drop here to add" : "drop a component here"}</div>}
      <Handle type="source" id="bottom" position={Position.Bottom} isConnectable={false} />
    </div>
  );
}

function JobNode({ data }: NodeProps<Node<JobNodeData>>) {
  const { edit, select, readOnly } = useContext(CanvasContext);
  const { job } = data;
  const index = Number(job.path[job.path.length - 1]);
  return (
    <div
      className={`editor-job nodrag nopan${data.selected ? " selected" : ""}`}
      data-job={job.id}
      draggable={!readOnly}
      role="button"
      tabIndex={0}
      aria-pressed={data.selected}
      aria-label={`Job ${job.id}`}
      onKeyDown={(event) => {
        if (event.key === "Enter" || event.key === " ") select(job.id);
        if ((event.key === "Delete" || event.key === "Backspace") && !readOnly) edit({ kind: "removeJob", job: job.path });
      }}
      onClick={() => select(job.id)}
      onDragStart={(event) => {
        event.dataTransfer.setData(JOB_TYPE, JSON.stringify(job.path));
        event.dataTransfer.effectAllowed = "move";
      }}
      onDragOver={(event) => over(event, COMPONENT_TYPE, JOB_TYPE)}
      onDrop={(event) => dropInto(event, job.path.slice(0, -2), index, edit)}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <div className="job-name">{job.name}</div>
      <div className="job-meta">
        {job.matrix ? "matrix · " : ""}
        {job.component ?? job.endpoint ?? "no image"}
      </div>
      {!readOnly && (
        <button
          type="button"
          className="icon remove"
          aria-label={`Remove job ${job.id}`}
          onClick={(event) => {
            event.stopPropagation();
            edit({ kind: "removeJob", job: job.path });
          }}
        >
          ✕
        </button>
      )}
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
}

const nodeTypes = { stage: StageNode, action: ActionNode, job: JobNode };

export function EditorCanvas(props: {
  model: FlowModel;
  selected: string | null;
  readOnly: boolean;
  onEdit: (change: CanvasEdit) => void;
  onSelect: (jobId: string | null) => void;
}) {
  const { nodes, edges } = useMemo(() => editorGraph(props.model, props.selected), [props.model, props.selected]);
  // A stage or an action more or less: the whole flow is shown again (fitted to the canvas).
  const flow = useRef<ReactFlowInstance | null>(null);
  const shape = props.model.stages.map((stage) => `${stage.actions.length}${stage.sequencing[0]}`).join(",");
  useEffect(() => {
    const frame = window.requestAnimationFrame(() => void flow.current?.fitView(GRAPH_VIEW.fitViewOptions));
    return () => window.cancelAnimationFrame(frame);
  }, [shape]);
  const handlers = useMemo(() => ({ edit: props.onEdit, select: props.onSelect, readOnly: props.readOnly }), [props.onEdit, props.onSelect, props.readOnly]);
  return (
    <CanvasContext.Provider value={handlers}>
      <div className="graph editor-canvas" data-testid="canvas">
        <ReactFlow
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          {...GRAPH_VIEW}
          onPaneClick={() => props.onSelect(null)}
          onInit={(instance) => {
            flow.current = instance;
          }}
        >
          <Background />
          <Controls showInteractive={false} />
        </ReactFlow>
      </div>
    </CanvasContext.Provider>
  );
}
