import { describe, expect, it } from "vitest";
import { keysAt, pathAt, type JsonSchema } from "./schemaKeys";

const SCHEMA: JsonSchema = {
  type: "object",
  properties: { uri: { description: "the flow" }, stages: { type: "array", items: { $ref: "#/$defs/stage" } } },
  $defs: {
    stage: { properties: { name: {}, actions: { items: { properties: { name: {}, jobs: { items: { $ref: "#/$defs/job" } } } } } } },
    job: { properties: { name: {}, component: {}, timeout: { description: "how long" } } },
  },
};

describe("keys from the flow schema", () => {
  it("follows the lines above to the cursor's place", () => {
    const text = "uri: a/b/c\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs:\n          - name: j\n            ti";
    expect(pathAt(text, text.length)).toEqual(["stages", "-", "actions", "-", "jobs", "-"]);
    expect(keysAt(SCHEMA, text, text.length).map((k) => k.key)).toEqual(["name", "component", "timeout"]);
    expect(keysAt(SCHEMA, "ur", 2).map((k) => k.key)).toEqual(["uri", "stages"]);
    const item = "stages:\n  - na";
    expect(keysAt(SCHEMA, item, item.length).map((k) => k.key)).toEqual(["name", "actions"]);
  });
});
