import { AnsiUp } from "ansi_up";
import { useEffect, useRef, useState } from "react";
import { duration, matrixSummary, type LogLine, type Run } from "./api";
import { logFeed } from "./logFeed";
import { StatusBadge } from "./Status";

/** At most this many lines are kept on the page (the newest); the API pages the rest. */
const KEEP = 20_000;

/** A log line with its HTML: ansi_up escapes the text (<, >, &, quotes) and turns only ANSI
 * colour codes into spans (links it makes are limited to http and https). Converted once, as
 * lines arrive in order, since a colour may carry over to the next line. */
interface ShownLine extends LogLine {
  html: string;
}

function ansiConverter(): AnsiUp {
  const converter = new AnsiUp();
  converter.escape_html = true;
  converter.use_classes = true;
  return converter;
}

function useJobLog(runId: number, path: string): { lines: ShownLine[]; ended: boolean; total: number } {
  const [lines, setLines] = useState<ShownLine[]>([]);
  const [total, setTotal] = useState(0);
  const [ended, setEnded] = useState(false);
  useEffect(() => {
    setLines([]);
    setTotal(0);
    setEnded(false);
    const converter = ansiConverter();
    const feed = logFeed<ShownLine>(
      {
        request: (callback) => window.requestAnimationFrame(callback),
        cancel: (handle) => window.cancelAnimationFrame(handle),
      },
      (batch) => {
        setTotal((n) => n + batch.length);
        setLines((current) => {
          const all = current.concat(batch);
          return all.length <= KEEP ? all : all.slice(all.length - KEEP);
        });
      },
      () => setEnded(true),
    );
    const query = new URLSearchParams({ job: path });
    const stream = new EventSource(`/api/v1/runs/${runId}/logs/stream?${query}`);
    stream.addEventListener("line", (message) => {
      const line = JSON.parse((message as MessageEvent<string>).data) as LogLine;
      feed.line({ ...line, html: converter.ansi_to_html(line.line) });
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
  return { lines, ended, total };
}

export function JobDrawer({ run, path, onClose }: { run: Run; path: string; onClose: () => void }) {
  const job = run.jobs?.find((candidate) => candidate.path === path);
  const { lines, ended, total } = useJobLog(run.id, path);
  const dropped = total - lines.length;
  const logRef = useRef<HTMLDivElement>(null);
  const [follow, setFollow] = useState(true);

  useEffect(() => {
    if (follow && logRef.current) logRef.current.scrollTop = logRef.current.scrollHeight;
  }, [lines, follow]);

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
      <div className="log-head">
        <h3>Log</h3>
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> follow
        </label>
      </div>
      <div
        className="log"
        ref={logRef}
        data-testid="log"
        data-ended={ended ? "yes" : "no"}
        // Scrolling up to read stops following; back at the bottom follows again.
        onScroll={(e) => {
          const log = e.currentTarget;
          setFollow(log.scrollHeight - log.scrollTop - log.clientHeight < 24);
        }}
      >
        {dropped > 0 && <div className="muted">… {dropped} earlier lines not shown</div>}
        {lines.map((line) => (
          <div
            key={line.id}
            className={`line ${line.stream}`}
            data-line={line.id}
            // ansi_up escaped the text: see ShownLine
            dangerouslySetInnerHTML={{ __html: line.html }}
          />
        ))}
        {ended && lines.length === 0 && <div className="muted">No log lines.</div>}
      </div>
    </aside>
  );
}
