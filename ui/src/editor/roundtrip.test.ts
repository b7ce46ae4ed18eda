// The canvas's edits against every flow we have: the 80 pilotage flows (beside the
// repository, ../shared/compat/pilotage) and the examples. An edit changes only the lines it
// must, and its inverse gives back the very same bytes.
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { addJob, addStage, moveJob, moveWithin, removeAt, setJobField } from "./flowEdits";
import { flowModel, type JobModel } from "./flowModel";
import { parse } from "./yamlEdit";

const ROOT = resolve(__dirname, "../../..");
const PILOTAGE = resolve(ROOT, "..", "shared", "compat", "pilotage");
const EXAMPLES = join(ROOT, "examples");

function files(dir: string, pattern: RegExp): [string, string][] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => pattern.test(name))
    .sort()
    .map((name) => [name, readFileSync(join(dir, name), "utf8")]);
}

const PILOTAGE_FLOWS = files(PILOTAGE, /\.yml$/);
const EXAMPLE_FLOWS = files(EXAMPLES, /\.ya?ml$/);
/** Not YAML (a line indented one column too far): the server's loader re-indents it with a
 * warning; the editor shows the syntax error at its line and draws nothing. */
const NOT_YAML = "component_java_document_javadoc_component-java-gradle-document-javadoc.yml";
const ALL = [...PILOTAGE_FLOWS, ...EXAMPLE_FLOWS].filter(([name]) => name !== NOT_YAML);

/** `after` is `before` with lines inserted in one place: the inserted lines. */
function insertedLines(before: string, after: string): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  let head = 0;
  while (head < a.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  expect(head + tail).toBe(a.length); // nothing of `before` changed, only lines added
  return b.slice(head, b.length - tail);
}

describe("the flows the round trips run on", () => {
  it("are all there: 80 pilotage flows and the examples", () => {
    expect(PILOTAGE_FLOWS.length).toBe(80);
    expect(EXAMPLE_FLOWS.length).toBeGreaterThanOrEqual(3);
  });
});

describe("a flow that is not YAML", () => {
  it("is refused by the model with the line of the mistake", () => {
    const text = PILOTAGE_FLOWS.find(([name]) => name === NOT_YAML)![1];
    expect(() => flowModel(text)).toThrow(/at line 31, column 1/);
  });
});

describe.each(ALL)("%s", (_name, text) => {
  const model = flowModel(text);

  it("reads as a model with every stage, action and job of the YAML", () => {
    type Raw = { actions?: ({ jobs?: unknown[] | null } | null)[] | null } | null;
    const stages = (parse(text).toJS() as { stages: Raw[] }).stages.filter((stage) => stage !== null);
    expect(model.stages.length).toBe(stages.length);
    const jobs = stages
      .flatMap((stage) => stage?.actions ?? [])
      .flatMap((action) => action?.jobs ?? [])
      .filter((job) => job !== null);
    expect(model.stages.flatMap((s) => s.actions).flatMap((a) => a.jobs).length).toBe(jobs.length);
  });

  it("adding a job inserts only its lines; removing it gives back the same bytes", () => {
    const action = model.stages.flatMap((s) => s.actions).find((a) => a.jobs.length > 0);
    if (!action) return expect(model.stages.every((s) => s.actions.every((a) => a.jobs.length === 0))).toBe(true);
    for (const index of [0, action.jobs.length]) {
      const added = addJob(text, action.path, { name: "probe", component: "library/shell:1.0.0" }, index);
      const lines = insertedLines(text, added.text);
      expect(lines.join("\n")).toMatch(/- name: probe\n\s+component: library\/shell:1\.0\.0/);
      const after = flowModel(added.text).stages.flatMap((s) => s.actions).find((a) => a.path.join() === action.path.join())!;
      expect(after.jobs.length).toBe(action.jobs.length + 1);
      expect(after.jobs[index].name).toBe("probe");
      expect(after.jobs[index].component).toBe("library/shell:1.0.0");
      expect(removeAt(added.text, [...action.path, "jobs", index])).toBe(text);
    }
  });

  it("moving a stage there and back gives back the same bytes", () => {
    if (model.stages.length < 3) return;
    const moved = moveWithin(text, model.stages[1].path, 3);
    expect(flowModel(moved).stages.map((s) => s.name)).toEqual([
      model.stages[0].name, model.stages[2].name, model.stages[1].name, ...model.stages.slice(3).map((s) => s.name),
    ]); // prettier-ignore
    expect(moveWithin(moved, ["stages", 2], 1)).toBe(text);
  });

  it("moving a job into another action and back gives back the same bytes", () => {
    const actions = model.stages.flatMap((s) => s.actions).filter((a) => a.jobs.length > 0);
    if (actions.length < 2) return;
    const [from, to] = actions;
    const moved = moveJob(text, from.jobs[0].path, to.path, to.jobs.length);
    const after = flowModel(moved).stages.flatMap((s) => s.actions);
    const target = after.find((a) => a.path.join() === to.path.join())!;
    const identity = (job: JobModel | undefined) => job && (job.endpoint ?? job.component ?? job.name);
    expect(target.jobs.length).toBe(to.jobs.length + 1);
    expect(identity(target.jobs.at(-1))).toBe(identity(from.jobs[0]));
    const back = flowModel(moved).stages.flatMap((s) => s.actions).find((a) => a.path.join() === to.path.join())!;
    expect(moveJob(moved, back.jobs.at(-1)!.path, from.path, 0)).toBe(text);
  });

  it("setting a job's timeout and an input, then removing them, gives back the same bytes", () => {
    const job = model.stages.flatMap((s) => s.actions).flatMap((a) => a.jobs)[0];
    if (!job) return;
    const original = parse(text).getIn([...job.path, "timeout"]);
    const timed = setJobField(text, job.path, "timeout", "7m");
    expect(parse(timed).getIn([...job.path, "timeout"])).toBe("7m");
    if (original === undefined) {
      insertedLines(text, timed);
      expect(setJobField(timed, job.path, "timeout", undefined)).toBe(text);
    }
    const hadInputs = parse(text).getIn([...job.path, "inputs"]) !== undefined;
    const withInput = setJobField(text, job.path, "inputs.probe-input", "a value");
    expect(parse(withInput).getIn([...job.path, "inputs", "probe-input"])).toBe("a value");
    if (!hadInputs) expect(setJobField(withInput, job.path, "inputs", undefined)).toBe(text);
  });

  it("a new stage goes before the end stage and only adds its lines", () => {
    const added = addStage(text);
    insertedLines(text, added);
    const stages = flowModel(added).stages;
    expect(stages.length).toBe(model.stages.length + 1);
    const end = model.stages.findIndex((s) => s.type === "end");
    if (end >= 0) expect(stages[end].actions[0].name).toBe("action-1");
  });
});
