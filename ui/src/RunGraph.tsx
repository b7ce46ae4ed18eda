import { Background, Controls, Handle, Position, ReactFlow, type Node, type NodeProps } from "@xyflow/react";
import { useMemo } from "react";
import { useNavigate } from "react-router";
import { duration, matrixSummary, type Job } from "./api";
import { GRAPH_VIEW, runGraph, type GroupData, type JobData } from "./graph";

function StageNode({ data }: NodeProps<Node<GroupData>>) {
  return (
    <div className={`group stage state-${data.status}`} data-stage={data.label} data-status={data.status}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <div className="group-label">{data.label}</div>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
}

function ActionNode({ data }: NodeProps<Node<GroupData>>) {
  return (
    <div className={`group action state-${data.status}`} data-action={data.label}>
      <div className="group-label">{data.label}</div>
    </div>
  );
}

function JobNode({ data, selected }: NodeProps<Node<JobData>>) {
  const { job } = data;
  return (
    <div
      className={`job state-${job.status}${selected ? " selected" : ""}`}
      data-job={job.path}
      data-status={job.status}
      title={job.reason ?? job.status}
    >
      <div className="job-name">{data.name}</div>
      <div className="job-meta" title={job.matrix && matrixSummary(job.matrix)}>
        {job.matrix ? `×${job.matrix.instances} · ` : ""}
        {job.status}
        {job.exit_code !== null && job.exit_code !== 0 ? ` (exit ${job.exit_code})` : ""}
        {job.started_at ? ` · ${duration(job.started_at, job.finished_at)}` : ""}
      </div>
    </div>
  );
}

const nodeTypes = { stage: StageNode, action: ActionNode, job: JobNode };

/** The run's graph; a click on a job opens ``link(path)`` (its drawer, the page's view kept). */
export function RunGraph({ jobs, selected, link }: { jobs: Job[]; selected?: string; link: (path: string) => string }) {
  const navigate = useNavigate();
  const { nodes, edges } = useMemo(() => runGraph(jobs, selected), [jobs, selected]);
  return (
    <div className="graph" data-testid="graph">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        {...GRAPH_VIEW}
        onNodeClick={(_, node) => {
          if (node.type === "job") {
            navigate(link((node.data as JobData).job.path));
          }
        }}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
