import { useEffect, useRef, useState } from "react";
import { Link } from "react-router";
import { duration, matrixSummary, when, type Attempt, type Job, type Run } from "./api";
import { attemptsOf, historyOf, imageRef } from "./jobFacts";
import { logFeed } from "./logFeed";
import { PAGE_QUERY, pageLines } from "./logPage";
import { LinkTabs } from "./LinkTabs";
import { LogView, type ShownLine } from "./LogView";
import { RunHistory } from "./RunHistory";
import { TABS, type JobTab } from "./runLinks";
import { StatusBadge } from "./Status";

/** At most this many lines are kept (the newest); the view shows only those in sight. */
const KEEP = 1_000_000;

/** The job's lines, in one array that grows (copying a million lines a frame would not do);
 * `count` changes with each batch, so that the view renders again. */
function useJobLog(runId: number, path: string): { lines: ShownLine[]; count: number; ended: boolean; total: number } {
  const kept = useRef<ShownLine[]>([]);
  const [count, setCount] = useState(0);
  const [total, setTotal] = useState(0);
  const [ended, setEnded] = useState(false);
  useEffect(() => {
    kept.current = [];
    setCount(0);
    setTotal(0);
    setEnded(false);
    const feed = logFeed<ShownLine>(
      {
        request: (callback) => window.requestAnimationFrame(callback),
        cancel: (handle) => window.cancelAnimationFrame(handle),
      },
      (batch) => {
        setTotal((n) => n + batch.length);
        const lines = kept.current;
        for (const line of batch) lines.push(line);
        if (lines.length > KEEP) kept.current = lines.slice(lines.length - KEEP);
        setCount(kept.current.length);
      },
      () => setEnded(true),
    );
    const query = new URLSearchParams({ job: path, ...PAGE_QUERY });
    const stream = new EventSource(`/api/v1/runs/${runId}/logs/stream?${query}`);
    stream.addEventListener("lines", (message) => {
      feed.lines(pageLines((message as MessageEvent<string>).data));
    });
    stream.addEventListener("end", () => {
      stream.close();
      feed.end();
    });
    return () => {
      stream.close();
      feed.close();
    };
  }, [runId, path]);
  return { lines: kept.current, count, ended, total };
}

const TAB_NAMES: Record<JobTab, string> = { logs: "Logs and outputs", attempts: "Attempts", history: "History" };

/** The image the job ran; for a pinned one (a repository component) its digest apart, and
 * a link to the component's page. */
function ImageFacts({ image }: { image: string | null }) {
  if (!image) {
    return (
      <>
        <dt>Image</dt>
        <dd>–</dd>
      </>
    );
  }
  const ref = imageRef(image);
  return (
    <>
      <dt>{ref.component ? "Component" : "Image"}</dt>
      <dd className="mono">
        {ref.component ? <Link to={`/components/${ref.component}`}>{ref.name}</Link> : ref.name}
      </dd>
      <dt>Digest</dt>
      <dd className="mono" data-testid="digest">
        {ref.digest ?? <span className="muted">none recorded (run by tag)</span>}
      </dd>
    </>
  );
}

function Attempts({ job, attempts }: { job: Job; attempts: Attempt[] }) {
  if (attempts.length === 0) {
    return (
      <p className="muted">
        {job.matrix ? "A matrix job: each instance has its own attempts." : "No attempt has started yet."}
      </p>
    );
  }
  return (
    <table className="list attempts" data-testid="attempts">
      <thead>
        <tr>
          <th>Attempt</th>
          <th>State</th>
          <th>Exit code</th>
          <th>Started</th>
          <th>Took</th>
          <th>Reason</th>
        </tr>
      </thead>
      <tbody>
        {attempts.map((attempt) => (
          <tr key={attempt.attempt} data-attempt={attempt.attempt} data-status={attempt.status}>
            <td>{attempt.attempt}</td>
            <td>
              <StatusBadge status={attempt.status} />
            </td>
            <td className="exit-code">{attempt.exit_code ?? "–"}</td>
            <td>{when(attempt.started_at) || "–"}</td>
            <td>{duration(attempt.started_at, attempt.finished_at) || "–"}</td>
            <td className="reason-cell">
              {attempt.reason ?? ""}
              {attempt.log_unstored > 0 && ` (${attempt.log_unstored} log lines past the cap not kept)`}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function JobDrawer({
  run,
  path,
  tab,
  tabLink,
  onClose,
}: {
  run: Run;
  path: string;
  tab: JobTab;
  tabLink: (tab: JobTab) => string;
  onClose: () => void;
}) {
  const job = run.jobs?.find((candidate) => candidate.path === path);
  const { lines, count, ended, total } = useJobLog(run.id, path);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => event.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);

  return (
    <aside className="drawer" aria-label={`Job ${path}`} data-testid="drawer" data-tab={tab}>
      <header>
        <h2>{path}</h2>
        <button type="button" onClick={onClose} aria-label="Close">
          ×
        </button>
      </header>
      {!job ? (
        <p className="error">This run has no job {path}.</p>
      ) : (
        <>
          <dl className="facts">
            <dt>State</dt>
            <dd>
              <StatusBadge status={job.status} />
              {job.reason && <span className="reason"> {job.reason}</span>}
            </dd>
            <dt>Exit code</dt>
            <dd>{job.exit_code ?? "–"}</dd>
            <dt>Attempts</dt>
            <dd>{job.attempts}</dd>
            <dt>Took</dt>
            <dd>{duration(job.started_at, job.finished_at) || "–"}</dd>
            {job.matrix && (
              <>
                <dt>Matrix</dt>
                <dd>{matrixSummary(job.matrix)}</dd>
              </>
            )}
            <ImageFacts image={job.image} />
          </dl>
          <LinkTabs names={TABS} labels={TAB_NAMES} current={tab} to={tabLink} label="Job details" kind="tab" />
          {tab === "logs" && Object.keys(job.outputs).length > 0 && (
            <table className="outputs" data-testid="outputs">
              <thead>
                <tr>
                  <th>Output</th>
                  <th>Value</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(job.outputs).map(([key, value]) => (
                  <tr key={key}>
                    <td className="mono">{key}</td>
                    <td className="mono">{value}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {tab !== "logs" && (
            <div className="drawer-pane">
              {tab === "attempts" && <Attempts job={job} attempts={attemptsOf(run, path)} />}
              {tab === "history" && <RunHistory changes={historyOf(run, path)} withJob={false} />}
            </div>
          )}
        </>
      )}
      {(tab === "logs" || !job) && (
        <LogView lines={lines} count={count} ended={ended} dropped={total - count} name={`run-${run.id}-${path}`} />
      )}
    </aside>
  );
}
