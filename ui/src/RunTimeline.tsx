import { useEffect, useMemo, useState } from "react";
import { Link } from "react-router";
import type { Attempt, Job } from "./api";
import { offsetLabel, timeline } from "./timeline";

/** Now, every second while ``live`` (so that running bars grow); fixed once the run ended. */
function useNow(live: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    setNow(Date.now());
    if (!live) return;
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, [live]);
  return now;
}

const percent = (fraction: number) => `${(fraction * 100).toFixed(3)}%`;

/** The run's jobs on one time axis: a row per job (a link to its drawer), a bar per attempt. */
export function RunTimeline({
  jobs,
  attempts,
  live,
  selected,
  link,
}: {
  jobs: Job[];
  attempts: Attempt[];
  live: boolean;
  selected?: string;
  link: (path: string) => string;
}) {
  const now = useNow(live);
  const view = useMemo(() => timeline(jobs, attempts, now), [jobs, attempts, now]);
  return (
    <div className="timeline" data-testid="timeline" data-span={view.end - view.start}>
      <div className="timeline-axis" aria-hidden="true">
        <span className="timeline-label" />
        <span className="timeline-track">
          {view.ticks.map((tick) => (
            <span key={tick.label} className="tick" style={{ left: percent(tick.left) }}>
              {tick.label}
            </span>
          ))}
        </span>
      </div>
      <ol className="timeline-rows">
        {view.rows.map((row) => (
          <li key={row.path}>
            <Link
              to={link(row.path)}
              className={`timeline-row${row.path === selected ? " selected" : ""}`}
              data-row={row.path}
              data-status={row.status}
              aria-current={row.path === selected ? "true" : undefined}
            >
              <span className="timeline-label">{row.path}</span>
              <span className="timeline-track">
                {row.bars.length === 0 && (
                  <span className="no-bar">
                    {row.status}
                    {row.reason ? `: ${row.reason}` : ""}
                  </span>
                )}
                {row.bars.map((bar) => (
                  <span
                    key={bar.attempt}
                    className={`bar state-${bar.status}${bar.running ? " running" : ""}`}
                    data-attempt={bar.attempt}
                    data-status={bar.status}
                    style={{ left: percent(bar.left), width: percent(bar.width) }}
                    title={`attempt ${bar.attempt}: ${bar.status}, ${offsetLabel(bar.ms)}`}
                  >
                    <span className="sr-only">
                      attempt {bar.attempt}: {bar.status}, {offsetLabel(bar.ms)}
                    </span>
                  </span>
                ))}
              </span>
            </Link>
          </li>
        ))}
      </ol>
    </div>
  );
}
