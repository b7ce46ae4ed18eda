import { useEffect, useRef, useState } from "react";
import { duration, matrixSummary, type Run } from "./api";
import { logFeed } from "./logFeed";
import { PAGE_QUERY, pageLines } from "./logPage";
import { LogView, type ShownLine } from "./LogView";
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

export function JobDrawer({ run, path, onClose }: { run: Run; path: string; onClose: () => void }) {
  const job = run.jobs?.find((candidate) => candidate.path === path);
  const { lines, count, ended, total } = useJobLog(run.id, path);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => event.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);

  return (
    <aside className="drawer" aria-label={`Job ${path}`} data-testid="drawer">
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
            <dt>Image</dt>
            <dd className="mono">{job.image ?? "–"}</dd>
          </dl>
          {Object.keys(job.outputs).length > 0 && (
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
        </>
      )}
      <LogView lines={lines} count={count} ended={ended} dropped={total - count} name={`run-${run.id}-${path}`} />
    </aside>
  );
}
