import { describe, expect, it } from "vitest";
import type { Attempt, Job } from "./api";
import { imageRef } from "./jobFacts";
import { runUrl, tabOf, viewOf } from "./runLinks";
import { testJob } from "./testJobs";
import { offsetLabel, ticks, timeline } from "./timeline";

const T0 = Date.parse("2026-12-04T10:00:00Z");
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

function job(path: string, status: string, start: number | null = null, end: number | null = null): Job {
  return testJob(path, status, start === null ? null : at(start), end === null ? null : at(end));
}

function attempt(path: string, n: number, status: string, start: number, end: number | null): Attempt {
  return {
    job: path,
    attempt: n,
    status,
    exit_code: status === "failure" ? 1 : 0,
    reason: null,
    outputs: {},
    started_at: at(start),
    finished_at: end === null ? null : at(end),
    log_unstored: 0,
  };
}

describe("timeline", () => {
  it("places each attempt on one axis from the first start to the last end", () => {
    const jobs = [job("a.b.c", "success", 0, 10), job("a.b.d", "success", 10, 40), job("x.y.z", "skipped")];
    const attempts = [
      attempt("a.b.c", 1, "success", 0, 10),
      attempt("a.b.d", 1, "failure", 10, 20),
      attempt("a.b.d", 2, "success", 20, 40),
    ];
    const t = timeline(jobs, attempts, T0 + 999_000);
    expect(t.end - t.start).toBe(40_000);
    expect(t.rows.map((r) => r.path)).toEqual(["a.b.c", "a.b.d", "x.y.z"]);
    expect(t.rows[0].bars).toEqual([{ attempt: 1, status: "success", left: 0, width: 0.25, ms: 10_000, running: false }]);
    expect(t.rows[1].bars.map((b) => [b.attempt, b.status, b.left, b.width])).toEqual([
      [1, "failure", 0.25, 0.25],
      [2, "success", 0.5, 0.5],
    ]);
    expect(t.rows[2]).toMatchObject({ status: "skipped", reason: null, bars: [] }); // never started: no bar
  });

  it("lets a running attempt grow to now, which ends the axis", () => {
    const jobs = [job("a.b.c", "success", 0, 5), job("a.b.d", "running", 5)];
    const attempts = [attempt("a.b.c", 1, "success", 0, 5), attempt("a.b.d", 1, "running", 5, null)];
    const early = timeline(jobs, attempts, T0 + 10_000);
    const later = timeline(jobs, attempts, T0 + 20_000);
    expect(early.rows[1].bars[0]).toMatchObject({ left: 0.5, width: 0.5, running: true, ms: 5_000 });
    expect(later.rows[1].bars[0]).toMatchObject({ left: 0.25, width: 0.75, running: true, ms: 15_000 });
    expect(later.rows[0].bars[0].width).toBe(0.25);
  });

  it("draws a job without attempts (a matrix's summary) from its own times", () => {
    const t = timeline([job("t.u.shards", "success", 2, 6), job("t.u.x", "success", 0, 2)], [], T0);
    expect(t.rows[0].bars).toEqual([{ attempt: 1, status: "success", left: 1 / 3, width: 2 / 3, ms: 4_000, running: false }]);
  });

  it("gives an empty axis at now when nothing started, and no division by zero", () => {
    const t = timeline([job("a.b.c", "pending")], [], T0);
    expect([t.start, t.end]).toEqual([T0, T0]);
    const instant = timeline([job("a.b.c", "success", 3, 3)], [attempt("a.b.c", 1, "success", 3, 3)], T0);
    expect(instant.rows[0].bars[0]).toMatchObject({ left: 0, width: 0 });
  });
});

describe("ticks", () => {
  it("takes the smallest round step that leaves at most six intervals", () => {
    expect(ticks(40_000).map((t) => t.label)).toEqual(["0 s", "10 s", "20 s", "30 s", "40 s"]);
    expect(ticks(5_000).map((t) => t.label)).toEqual(["0 s", "1 s", "2 s", "3 s", "4 s", "5 s"]);
    expect(ticks(25 * 60_000).map((t) => t.label)).toEqual(["0 s", "5 min", "10 min", "15 min", "20 min", "25 min"]);
    expect(ticks(514).map((t) => t.label)).toEqual(["0 s", "100 ms", "200 ms", "300 ms", "400 ms", "500 ms"]);
    expect(ticks(0)).toEqual([{ left: 0, label: "0 s" }]);
    for (const span of [1, 999, 61_000, 7_200_000, 400_000_000]) {
      const found = ticks(span);
      expect(found.length).toBeLessThanOrEqual(7);
      expect(found.every((t) => t.left >= 0 && t.left <= 1)).toBe(true);
    }
  });

  it("says offsets in the largest units that fit", () => {
    expect([offsetLabel(0), offsetLabel(52), offsetLabel(90_000), offsetLabel(120_000), offsetLabel(3_900_000), offsetLabel(7_200_000)]).toEqual([
      "0 s", "52 ms", "1 min 30 s", "2 min", "1 h 5 min", "2 h",
    ]);
  });
});

describe("run URLs", () => {
  it("keep the view and the drawer's tab, defaults left out", () => {
    expect(runUrl(7)).toBe("/runs/7");
    expect(runUrl(7, "timeline")).toBe("/runs/7?view=timeline");
    expect(runUrl(7, "graph", "a.b.c[x=1]")).toBe("/runs/7/jobs/a.b.c%5Bx%3D1%5D");
    expect(runUrl(7, "timeline", "a.b.c", "attempts")).toBe("/runs/7/jobs/a.b.c?view=timeline&tab=attempts");
  });

  it("read back what they wrote; anything else is the default", () => {
    const read = (url: string) => {
      const search = new URL(url, "http://x").searchParams;
      return [viewOf(search), tabOf(search)];
    };
    expect(read(runUrl(7, "history", "a.b.c", "history"))).toEqual(["history", "history"]);
    expect(read("/runs/7?view=gantt&tab=<b>")).toEqual(["graph", "logs"]);
  });
});

describe("imageRef", () => {
  it("splits a component's digest reference; a tag has no digest", () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    expect(imageRef(`127.0.0.1:5000/acme/notify@${digest}`)).toEqual({
      name: "127.0.0.1:5000/acme/notify",
      digest,
      component: "acme/notify",
    });
    expect(imageRef(`library/alpine@${digest}`)).toEqual({ name: "library/alpine", digest, component: null });
    expect(imageRef("containerops/base:busybox")).toEqual({ name: "containerops/base:busybox", digest: null, component: null });
    expect(imageRef("odd@name")).toEqual({ name: "odd@name", digest: null, component: null });
  });
});
