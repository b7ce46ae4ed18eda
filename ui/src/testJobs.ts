// A job as the run's document gives it, for the unit tests: only what a test names differs.
import type { Job } from "./api";

export function testJob(path: string, status = "success", started_at: string | null = null, finished_at: string | null = null): Job {
  return { path, status, exit_code: null, attempts: 1, outputs: {}, reason: null, image: null, started_at, finished_at };
}
