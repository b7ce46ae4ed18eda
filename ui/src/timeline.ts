// A run's timeline (Gantt): one row per job, one bar per attempt from its start to its end
// (to now while it runs), on one time axis for the whole run. Pure, so that it is tested
// without a browser; the view only places what this computes.
import type { Attempt, Job, Status } from "./api";

export interface Bar {
  attempt: number;
  status: Status;
  /** where the bar starts and how wide it is, as fractions of the axis (0 to 1) */
  left: number;
  width: number;
  ms: number;
  running: boolean;
}

export interface Row {
  path: string;
  status: Status;
  /** why the job is as it is (a skip, a job kept from an earlier run), for a row without bars */
  reason: string | null;
  bars: Bar[];
}

export interface Tick {
  left: number;
  label: string;
}

export interface Timeline {
  start: number;
  end: number;
  rows: Row[];
  ticks: Tick[];
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
/** Steps between ticks, the smallest that leaves at most MAX_TICKS intervals is taken. */
const STEPS = [
  0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
].map((s) => Math.round(s * SECOND));
const MAX_TICKS = 6;

function time(value: string | null): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

interface Span {
  attempt: number;
  status: Status;
  from: number;
  to: number;
  running: boolean;
}

/** The spans a job ran: its attempts that started; a job without recorded attempts (a
 * matrix job's summary) that started is one span, its own start to end. */
function spans(job: Job, attempts: Attempt[], now: number): Span[] {
  const from = attempts.length
    ? attempts.map((a) => ({ attempt: a.attempt, status: a.status, start: a.started_at, end: a.finished_at }))
    : [{ attempt: 1, status: job.status, start: job.started_at, end: job.finished_at }];
  const found: Span[] = [];
  for (const item of from) {
    const start = time(item.start);
    if (start === undefined) continue;
    const end = time(item.end);
    found.push({ attempt: item.attempt, status: item.status, from: start, to: Math.max(start, end ?? now), running: end === undefined });
  }
  return found;
}

/** "0 s", "250 ms", "45 s", "2 min", "1 min 30 s", "1 h 5 min": a tick's distance from the start. */
export function offsetLabel(ms: number): string {
  if (ms > 0 && ms < SECOND) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / SECOND);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

/** Ticks from the start, every step of a round size, at most MAX_TICKS intervals. */
export function ticks(span: number): Tick[] {
  if (span <= 0) return [{ left: 0, label: offsetLabel(0) }];
  const step = STEPS.find((candidate) => span / candidate <= MAX_TICKS) ?? Math.ceil(span / MAX_TICKS / HOUR) * HOUR;
  const found: Tick[] = [];
  for (let at = 0; at <= span; at += step) found.push({ left: at / span, label: offsetLabel(at) });
  return found;
}

/** The timeline of ``jobs`` (in the run's order) from ``attempts``; bars still running end
 * at ``now``. A job that never started has a row without bars. */
export function timeline(jobs: Job[], attempts: Attempt[], now: number): Timeline {
  const byJob = new Map<string, Attempt[]>();
  for (const attempt of attempts) {
    const list = byJob.get(attempt.job) ?? [];
    list.push(attempt);
    byJob.set(attempt.job, list);
  }
  const jobSpans = jobs.map((job) => spans(job, byJob.get(job.path) ?? [], now));
  const all = jobSpans.flat();
  const start = all.length ? Math.min(...all.map((s) => s.from)) : now;
  const end = all.length ? Math.max(...all.map((s) => s.to)) : now;
  const width = end - start;
  const rows = jobs.map((job, index) => ({
    path: job.path,
    status: job.status,
    reason: job.reason,
    bars: jobSpans[index].map((s) => ({
      attempt: s.attempt,
      status: s.status,
      left: width > 0 ? (s.from - start) / width : 0,
      width: width > 0 ? (s.to - s.from) / width : 0,
      ms: s.to - s.from,
      running: s.running,
    })),
  }));
  return { start, end, rows, ticks: ticks(width) };
}
