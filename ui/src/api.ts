// The API, called with the session cookie (same origin). Writes carry the header the server
// requires of cookie-authenticated writes (a cross-site form or image cannot set it).

export const UI_HEADER = { "X-Coops-UI": "1" };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the server answers 401: the session is gone (signed out, expired, revoked). */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  for (const [name, value] of Object.entries(UI_HEADER)) headers.set(name, value);
  if (init.body !== undefined && !headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  const response = await fetch(path, { ...init, headers, credentials: "same-origin" });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = (await response.json()) as { error?: unknown };
      if (typeof body.error === "string") message = body.error;
    } catch {
      // not JSON: the status says it
    }
    if (response.status === 401 && !path.startsWith("/api/v1/session")) onUnauthorized();
    throw new ApiError(response.status, message);
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

// -- what the API answers (the fields the UI shows) -------------------------------
export type Status = "pending" | "running" | "paused" | "success" | "failure" | "cancelled" | "skipped" | string;

export interface Job {
  path: string;
  status: Status;
  exit_code: number | null;
  attempts: number;
  outputs: Record<string, string>;
  reason: string | null;
  image: string | null;
  started_at: string | null;
  finished_at: string | null;
  /** a matrix job (its instances left out of the run's document): how many, by state */
  matrix?: { instances: number; counts: Record<string, number> };
}

/** "24 instances: 20 success, 4 failure" */
export function matrixSummary(matrix: NonNullable<Job["matrix"]>): string {
  const counts = Object.entries(matrix.counts).map(([status, count]) => `${count} ${status}`);
  return `${matrix.instances} instances: ${counts.join(", ")}`;
}

export interface Run {
  id: number;
  uri: string;
  number: number;
  flow_version: number;
  status: Status;
  reason: string | null;
  executor: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  jobs?: Job[];
  /** every attempt of every job (a matrix's instances left out), job by job */
  attempts?: Attempt[];
  /** every state change of the run (job null) and of its jobs, oldest first: Lua's effects,
   * skips, retries, pause decisions, each with its reason */
  history?: Change[];
}

export interface Attempt {
  job: string;
  attempt: number;
  status: Status;
  exit_code: number | null;
  reason: string | null;
  outputs: Record<string, string>;
  started_at: string | null;
  finished_at: string | null;
  log_unstored: number;
}

export interface Change {
  job: string | null;
  attempt: number | null;
  status: Status;
  reason: string | null;
  at: string;
}

export interface Flow {
  id: number;
  uri: string;
  namespace: string;
  created_at: string;
  latest_version: number;
  versions: number;
  runs: number;
}

export interface Whoami {
  user: string;
  admin: boolean;
  scope: string;
  token: string;
  namespaces: Record<string, string>;
}

export interface LogLine {
  id: number;
  job: string;
  attempt: number;
  seq: number;
  at: string;
  stream: string;
  line: string;
}

export const LIVE = new Set(["pending", "running", "paused"]);

export function duration(start: string | null, end: string | null, now = Date.now()): string {
  if (!start) return "";
  const ms = (end ? Date.parse(end) : now) - Date.parse(start);
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function when(time: string | null): string {
  return time ? new Date(time).toLocaleString() : "";
}
