// A property test of the canvas's edits (fast-check): any sequence of random edits leaves a
// YAML text without syntax errors whose model is what the edits said, and every key the
// edits did not touch keeps its value.
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { addAction, addJob, addStage, moveJob, moveWithin, removeAt, setJobField, setSequencing } from "./flowEdits";
import { flowModel, newFlowText, type FlowModel } from "./flowModel";
import { parse } from "./yamlEdit";

type Shape = { name: string; sequencing: string; actions: { name: string; jobs: string[] }[] }[];

function shape(model: FlowModel): Shape {
  return model.stages.map((stage) => ({
    name: stage.name,
    sequencing: stage.sequencing,
    actions: stage.actions.map((action) => ({ name: action.name, jobs: action.jobs.map((job) => job.name) })),
  }));
}

const op = fc.oneof(
  fc.record({ kind: fc.constant("addJob"), a: fc.nat(), b: fc.nat(), c: fc.nat() }),
  fc.record({ kind: fc.constant("removeJob"), a: fc.nat(), b: fc.nat(), c: fc.nat() }),
  fc.record({ kind: fc.constant("moveJob"), a: fc.nat(), b: fc.nat(), c: fc.nat() }),
  fc.record({ kind: fc.constant("addStage"), a: fc.nat(), b: fc.nat(), c: fc.nat() }),
  fc.record({ kind: fc.constant("moveStage"), a: fc.nat(), b: fc.nat(), c: fc.nat() }),
  fc.record({ kind: fc.constant("addAction"), a: fc.nat(), b: fc.nat(), c: fc.nat() }),
  fc.record({ kind: fc.constant("parallel"), a: fc.nat(), b: fc.nat(), c: fc.nat() }),
  fc.record({ kind: fc.constant("timeout"), a: fc.nat(), b: fc.nat(), c: fc.nat() }),
);
type Op = { kind: string; a: number; b: number; c: number };

/** Apply `edit` to the text and to the expected shape; false when it does not apply here. */
function apply(text: string, expected: Shape, edit: Op): string | null {
  const model = flowModel(text);
  const stages = model.stages;
  const pick = <T>(list: T[], n: number): [T, number] | null => (list.length ? [list[n % list.length], n % list.length] : null);
  const actions = stages.flatMap((stage, s) => stage.actions.map((action, a) => ({ action, s, a })));
  const jobs = actions.flatMap((entry) => entry.action.jobs.map((job, j) => ({ ...entry, job, j })));
  switch (edit.kind) {
    case "addJob": {
      const found = pick(actions, edit.a);
      if (!found) return null;
      const [{ action, s, a }] = found;
      const at = edit.b % (action.jobs.length + 1);
      const added = addJob(text, action.path, { name: "j", component: "library/shell:1.0.0", inputs: { script: "echo hi" } }, at);
      const name = flowModel(added.text).stages[s].actions[a].jobs[at].name;
      expected[s].actions[a].jobs.splice(at, 0, name);
      expect(name).toMatch(/^j(-\d+)?$/);
      return added.text;
    }
    case "removeJob": {
      const found = pick(jobs, edit.a);
      if (!found) return null;
      const [{ job, s, a, j }] = found;
      expected[s].actions[a].jobs.splice(j, 1);
      return removeAt(text, job.path);
    }
    case "moveJob": {
      const found = pick(jobs, edit.a);
      const target = pick(actions, edit.b);
      if (!found || !target) return null;
      const [{ job, s, a, j }] = found;
      const [{ action, s: ts, a: ta }] = target;
      const names = expected[ts].actions[ta].jobs;
      if ((ts !== s || ta !== a) && names.includes(job.name)) return null; // names stay unique
      const to = edit.c % (action.jobs.length + 1);
      expected[s].actions[a].jobs.splice(j, 1);
      const landing = ts === s && ta === a && to > j ? to - 1 : to;
      expected[ts].actions[ta].jobs.splice(landing, 0, job.name);
      return moveJob(text, job.path, action.path, to);
    }
    case "addStage": {
      const next = addStage(text);
      expected.splice(flowModel(next).stages.findIndex((st) => !expected.some((e) => e.name === st.name)), 0, {
        ...shape(flowModel(next)).find((st) => !expected.some((e) => e.name === st.name))!,
      });
      return next;
    }
    case "moveStage": {
      const found = pick(stages, edit.a);
      if (!found) return null;
      const [stage, from] = found;
      const to = edit.b % (stages.length + 1);
      const [moved] = expected.splice(from, 1);
      expected.splice(to > from ? to - 1 : to, 0, moved);
      return moveWithin(text, stage.path, to);
    }
    case "addAction": {
      const found = pick(stages, edit.a);
      if (!found || found[0].type !== "normal") return null;
      const next = addAction(text, found[0].path);
      const made = flowModel(next).stages[found[1]].actions.at(-1)!;
      expected[found[1]].actions.push({ name: made.name, jobs: [] });
      return next;
    }
    case "parallel": {
      const found = pick(stages, edit.a);
      if (!found || found[0].type !== "normal") return null;
      const mode = edit.b % 2 ? "parallel" : "sequence";
      expected[found[1]].sequencing = mode;
      return setSequencing(text, found[0].path, mode);
    }
    case "timeout": {
      const found = pick(jobs, edit.a);
      if (!found) return null;
      const value = edit.b % 3 === 0 ? undefined : `${edit.b % 60}m`;
      const next = setJobField(text, found[0].job.path, "timeout", value);
      expect(parse(next).getIn([...found[0].job.path, "timeout"])).toBe(value);
      return next;
    }
  }
  return null;
}

const START = [
  readFileSync(resolve(__dirname, "../../../examples/demo.yaml"), "utf8"),
  readFileSync(resolve(__dirname, "../../../examples/ci.yaml"), "utf8"),
  newFlowText("demo/drawn/flow"),
];

describe("random edits", () => {
  it.each(START.map((text, i) => [i, text]))("keep flow %i a valid document of the expected shape", (_i, text) => {
    const uri = flowModel(text).uri;
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        let current = text;
        const expected = shape(flowModel(text));
        for (const edit of ops) {
          const next = apply(current, expected, edit);
          if (next === null) continue;
          expect(parse(next).errors).toEqual([]);
          current = next;
          const model = flowModel(current);
          expect(shape(model)).toEqual(expected);
          expect(model.uri).toBe(uri);
        }
      }),
      { numRuns: 60 },
    );
  }, 60_000);
});
