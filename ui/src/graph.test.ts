import { describe, expect, it } from "vitest";
import { groupStatus, runGraph, splitPath, stagesOf } from "./graph";
import { testJob } from "./testJobs";

const job = testJob;

describe("splitPath", () => {
  it("splits stage, action and job; a matrix instance keeps its suffix", () => {
    expect(splitPath("build.unit.test")).toEqual(["build", "unit", "test"]);
    expect(splitPath("t.m.shard[v=1.2]")).toEqual(["t", "m", "shard[v=1.2]"]);
  });
});

describe("groupStatus", () => {
  it("says what a glance should: a failure first, then what still runs", () => {
    expect(groupStatus([job("a.b.c"), job("a.b.d", "failure"), job("a.b.e", "running")])).toBe("failure");
    expect(groupStatus([job("a.b.c"), job("a.b.e", "running")])).toBe("running");
    expect(groupStatus([job("a.b.c"), job("a.b.d", "skipped")])).toBe("success");
    expect(groupStatus([job("a.b.c", "skipped")])).toBe("skipped");
    expect(groupStatus([])).toBe("pending");
  });
});

describe("runGraph", () => {
  const jobs = [
    job("build.compile.make"),
    job("build.lint.check", "failure"),
    job("build.compile.pack", "running"),
    job("test.unit.pytest", "pending"),
  ];

  it("groups jobs by stage and action in the order they come", () => {
    const stages = stagesOf(jobs);
    expect(stages.map((stage) => stage.name)).toEqual(["build", "test"]);
    expect([...stages[0].actions.keys()]).toEqual(["compile", "lint"]);
    expect(stages[0].actions.get("compile")!.map((j) => j.path)).toEqual(["build.compile.make", "build.compile.pack"]);
  });

  it("puts stages left to right, parents before children, and links each stage to the next", () => {
    const { nodes, edges } = runGraph(jobs, "build.lint.check");
    const index = new Map(nodes.map((node, i) => [node.id, i]));
    for (const node of nodes) {
      if (node.parentId) expect(index.get(node.parentId)!).toBeLessThan(index.get(node.id)!);
      expect(node.width).toBeGreaterThan(0);
      expect(node.height).toBeGreaterThan(0);
    }
    const build = nodes.find((node) => node.id === "stage:build")!;
    const test = nodes.find((node) => node.id === "stage:test")!;
    expect(test.position.x).toBeGreaterThan(build.position.x + build.width!);
    expect(build.data.status).toBe("failure");
    expect(edges).toEqual([{ id: "stage:build->stage:test", source: "stage:build", target: "stage:test" }]);
    expect(nodes.filter((node) => node.selected).map((node) => node.id)).toEqual(["job:build.lint.check"]);
  });

  it("stacks an action's jobs inside it and the actions inside their stage", () => {
    const { nodes } = runGraph(jobs);
    const byId = new Map(nodes.map((node) => [node.id, node]));
    for (const node of nodes.filter((n) => n.parentId)) {
      const parent = byId.get(node.parentId!)!;
      expect(node.position.x + node.width!).toBeLessThanOrEqual(parent.width!);
      expect(node.position.y + node.height!).toBeLessThanOrEqual(parent.height!);
    }
    const make = byId.get("job:build.compile.make")!;
    const pack = byId.get("job:build.compile.pack")!;
    expect(pack.position.y).toBeGreaterThanOrEqual(make.position.y + make.height!);
  });
});
