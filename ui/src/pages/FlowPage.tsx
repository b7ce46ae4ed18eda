// A flow's page: its versions (who saved each, when), a diff between any two of them
// (unified or side by side, shown as text), its triggers, its schedules and its runs.
// Which versions are compared and how is in the URL (?from=1&to=3&view=split).
import { useEffect, useMemo, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { api, duration, LIVE, when, type Run } from "../api";
import { diffHunks, diffStat, sideBySide, type Hunk, type Side } from "../flowDiff";
import { Listing } from "../Listing";
import { StatusBadge } from "../Status";
import { usePolling } from "../usePolling";
import type { Schedule } from "./operate/Schedules";

interface Version {
  id: number;
  version: number;
  digest: string;
  format: string;
  created_at: string;
  created_by: string | null;
}

interface Trigger {
  type: string;
  schedule?: string;
  timezone?: string;
  secret?: string;
  token?: string;
  events?: string[];
  branches?: string[];
  hook?: string;
}

interface FlowDetail {
  uri: string;
  namespace: string;
  created_at: string;
  latest_version: number;
  runs: number;
  version_list: Version[];
  triggers: Trigger[];
}

function triggerText(trigger: Trigger): string {
  if (trigger.type === "cron") return `${trigger.schedule} (${trigger.timezone})`;
  const parts = [];
  if (trigger.events?.length) parts.push(`events: ${trigger.events.join(", ")}`);
  if (trigger.branches?.length) parts.push(`branches: ${trigger.branches.join(", ")}`);
  if (trigger.secret) parts.push(`secret: ${trigger.secret}`);
  if (trigger.token) parts.push(`token secret: ${trigger.token}`);
  return parts.join("; ");
}

function useSource(uri: string, version: number | null): string | undefined {
  const [sources, setSources] = useState<Record<string, string>>({});
  const key = `${uri}@${version}`;
  useEffect(() => {
    if (version === null || key in sources) return;
    api<{ source: string }>(`/api/v1/flows/${uri}/versions/${version}`).then(
      (found) => setSources((known) => ({ ...known, [key]: found.source })),
      () => setSources((known) => ({ ...known, [key]: "" })),
    );
  }, [key, uri, version, sources]);
  return version === null ? undefined : sources[key];
}

function VersionChoice(props: { label: string; which: "from" | "to"; value: number | null; versions: Version[]; choose: (key: string, value: string) => void }) {
  return (
    <label>
      {props.label}{" "}
      <select data-testid={`diff-${props.which}`} value={props.value ?? ""} onChange={(e) => props.choose(props.which, e.target.value)}>
        {props.versions.map((v) => (
          <option key={v.version} value={v.version}>
            v{v.version}
          </option>
        ))}
      </select>
    </label>
  );
}

function SideCell({ side, which }: { side: Side | null; which: string }) {
  if (side === null) return <td className="diff-num" aria-hidden="true" colSpan={2} />;
  return (
    <>
      <td className="diff-num">{side.line}</td>
      <td className={`diff-text diff-${side.kind}`} data-side={which}>
        {side.kind === "del" ? "-" : side.kind === "add" ? "+" : " "}
        {side.text}
      </td>
    </>
  );
}

function DiffView({ hunks, split }: { hunks: Hunk[]; split: boolean }) {
  if (hunks.length === 0) return <p className="muted" data-testid="diff-same">The two versions are the same.</p>;
  return (
    <table className="diff" data-testid="diff" data-view={split ? "split" : "unified"}>
      <colgroup>
        <col className="diff-numcol" />
        <col className={split ? undefined : "diff-numcol"} />
        <col className={split ? "diff-numcol" : undefined} />
        <col />
      </colgroup>
      {hunks.map((hunk) => (
        <tbody key={hunk.header}>
          <tr className="diff-hunk">
            <td colSpan={4}>{hunk.header}</td>
          </tr>
          {split
            ? sideBySide(hunk.rows).map((pair, i) => (
                <tr key={i}>
                  <SideCell side={pair.left} which="old" />
                  <SideCell side={pair.right} which="new" />
                </tr>
              ))
            : hunk.rows.map((row, i) => (
                <tr key={i} data-kind={row.kind}>
                  <td className="diff-num">{row.old ?? ""}</td>
                  <td className="diff-num">{row.new ?? ""}</td>
                  <td className={`diff-text diff-${row.kind}`} colSpan={2}>
                    {row.kind === "del" ? "-" : row.kind === "add" ? "+" : " "}
                    {row.text}
                  </td>
                </tr>
              ))}
        </tbody>
      ))}
    </table>
  );
}

export default function FlowPage() {
  const { namespace = "", repository = "", name = "" } = useParams();
  const uri = `${namespace}/${repository}/${name}`;
  const [params, setParams] = useSearchParams();
  const flow = usePolling(() => api<FlowDetail>(`/api/v1/flows/${uri}`), [uri], () => true, 10000);
  const runs = usePolling(
    () => api<{ runs: Run[] }>(`/api/v1/runs?${new URLSearchParams({ flow: uri, limit: "20" })}`).then((r) => r.runs),
    [uri],
    () => true,
    5000,
  );
  const schedules = usePolling(
    () =>
      api<{ schedules: Schedule[] }>(`/api/v1/schedules?${new URLSearchParams({ namespace })}`).then((s) =>
        s.schedules.filter((schedule) => schedule.flow === uri),
      ),
    [uri],
    () => true,
    10000,
  );
  const versions = flow.data?.version_list ?? [];
  const newest = versions[0]?.version ?? null;
  const to = Number(params.get("to")) || newest;
  const from = Number(params.get("from")) || (to !== null && to > 1 ? to - 1 : to);
  const split = params.get("view") === "split";
  const before = useSource(uri, from);
  const after = useSource(uri, to);
  const hunks = useMemo(() => (before !== undefined && after !== undefined ? diffHunks(before, after) : undefined), [before, after]);
  const stat = hunks ? diffStat(hunks) : null;
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    next.set(key, value);
    setParams(next, { replace: true });
  };

  if (flow.error && !flow.data) return <p className="error">{flow.error}</p>;
  if (!flow.data) return <p className="muted">Loading…</p>;
  return (
    <section className="flow-page" data-testid="flow-page">
      <h1>
        {uri}{" "}
        <Link className="small" to={`/flows/${uri}/edit`}>
          edit
        </Link>
      </h1>
      <p className="muted">
        {flow.data.version_list.length} versions, {flow.data.runs} runs; first saved {when(flow.data.created_at)}.
      </p>

      <h2>Versions</h2>
      <Listing
        items={versions}
        empty="No versions."
        testId="flow-versions"
        heads={["Version", "Saved by", "When", "Digest", "Compare"]}
        row={(version) => (
          <tr key={version.id} data-version={version.version}>
            <td>v{version.version}</td>
            <td>{version.created_by ?? <span className="muted">coops run (local)</span>}</td>
            <td>{when(version.created_at)}</td>
            <td className="mono">{version.digest.slice(0, 12)}</td>
            <td>
              <button type="button" className="small" disabled={version.version === from} onClick={() => set("from", String(version.version))} aria-label={`Compare from version ${version.version}`}>
                from
              </button>{" "}
              <button type="button" className="small" disabled={version.version === to} onClick={() => set("to", String(version.version))} aria-label={`Compare to version ${version.version}`}>
                to
              </button>
            </td>
          </tr>
        )}
      />

      <h2>Changes</h2>
      <div className="diff-controls">
        <VersionChoice label="From" which="from" value={from} versions={versions} choose={set} />
        <VersionChoice label="to" which="to" value={to} versions={versions} choose={set} />
        <fieldset className="view-choice">
          <legend className="sr-only">Diff view</legend>
          <label>
            <input type="radio" name="view" checked={!split} onChange={() => set("view", "unified")} /> unified
          </label>
          <label>
            <input type="radio" name="view" checked={split} onChange={() => set("view", "split")} /> side by side
          </label>
        </fieldset>
        {stat && (
          <span className="muted" data-testid="diff-stat">
            +{stat.added} −{stat.removed}
          </span>
        )}
      </div>
      {hunks === undefined ? <p className="muted">Loading…</p> : <DiffView hunks={hunks} split={split} />}

      <h2>Triggers</h2>
      <Listing
        items={flow.data.triggers}
        empty="No triggers: this flow runs when someone starts it."
        testId="flow-triggers"
        heads={["Type", "What", "Posted to"]}
        row={(trigger) => (
          <tr key={`${trigger.type}-${trigger.hook ?? ""}-${trigger.schedule ?? ""}`} data-trigger={trigger.type}>
            <td>{trigger.type}</td>
            <td className="mono">{triggerText(trigger)}</td>
            <td className="mono">{trigger.hook ? `POST ${trigger.hook}` : ""}</td>
          </tr>
        )}
      />

      <h2>Schedules</h2>
      <Listing
        items={schedules.data}
        empty="No schedules."
        testId="flow-schedules"
        heads={["Schedule", "Next tick", "Last tick", "Last run"]}
        row={(schedule) => (
          <tr key={schedule.id} data-schedule={schedule.schedule}>
            <td className="mono">
              {schedule.schedule} <span className="muted">{schedule.timezone}</span>
              {schedule.active ? "" : " (inactive)"}
            </td>
            <td>{when(schedule.next_tick)}</td>
            <td>{when(schedule.last_tick)}</td>
            <td>{schedule.last_run_id !== null && <Link to={`/runs/${schedule.last_run_id}`}>#{schedule.last_run_id}</Link>}</td>
          </tr>
        )}
      />

      <h2>
        Runs{" "}
        <Link className="small" to={`/runs?flow=${encodeURIComponent(uri)}`}>
          all of them
        </Link>
      </h2>
      <Listing
        items={runs.data}
        empty="No runs yet."
        testId="flow-runs"
        heads={["Run", "Version", "State", "Started", "Took"]}
        row={(run) => (
          <tr key={run.id} data-run={run.id}>
            <td>
              <Link to={`/runs/${run.id}`}>#{run.number}</Link>
            </td>
            <td>v{run.flow_version}</td>
            <td>
              <StatusBadge status={run.status} />
            </td>
            <td>{when(run.started_at ?? run.created_at)}</td>
            <td>{LIVE.has(run.status) ? "" : duration(run.started_at, run.finished_at)}</td>
          </tr>
        )}
      />
    </section>
  );
}
