import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { diffHunks, diffStat, sideBySide, unifiedText } from "./flowDiff";

const V1 = "uri: a/b/c\nstages:\n  - name: build\n    actions:\n      - name: make\n";
const V2 = "uri: a/b/c\n# nightly\nstages:\n  - name: build\n    actions:\n      - name: compile\n";

describe("a diff between two versions of a flow", () => {
  it("numbers each line on its side and says what was added and removed", () => {
    const hunks = diffHunks(V1, V2);
    expect(hunks.map((h) => h.header)).toEqual(["@@ -1,5 +1,6 @@"]);
    expect(hunks[0].rows).toEqual([
      { kind: "same", old: 1, new: 1, text: "uri: a/b/c" },
      { kind: "add", old: null, new: 2, text: "# nightly" },
      { kind: "same", old: 2, new: 3, text: "stages:" },
      { kind: "same", old: 3, new: 4, text: "  - name: build" },
      { kind: "same", old: 4, new: 5, text: "    actions:" },
      { kind: "del", old: 5, new: null, text: "      - name: make" },
      { kind: "add", old: null, new: 6, text: "      - name: compile" },
    ]);
    expect(diffStat(hunks)).toEqual({ added: 2, removed: 1 });
  });

  it("pairs a removed line with the added line that replaces it, side by side", () => {
    const pairs = sideBySide(diffHunks(V1, V2)[0].rows);
    expect(pairs.map((p) => [p.left?.line ?? null, p.left?.kind ?? null, p.right?.line ?? null, p.right?.kind ?? null])).toEqual([
      [1, "same", 1, "same"],
      [null, null, 2, "add"],
      [2, "same", 3, "same"],
      [3, "same", 4, "same"],
      [4, "same", 5, "same"],
      [5, "del", 6, "add"],
    ]);
  });

  it("has no hunk for equal versions, and keeps markup as plain text", () => {
    expect(diffHunks(V1, V1)).toEqual([]);
    const evil = '<img src=x onerror="alert(1)">';
    const rows = diffHunks("a\n", `a\n${evil}\n`)[0].rows;
    expect(rows.at(-1)).toEqual({ kind: "add", old: null, new: 2, text: evil });
  });

  it("leaves far-apart changes in separate hunks with three lines of context", () => {
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`);
    const changed = [...lines];
    changed[1] = "second";
    changed[25] = "twenty-sixth";
    const hunks = diffHunks(lines.join("\n") + "\n", changed.join("\n") + "\n");
    expect(hunks.map((h) => h.header)).toEqual(["@@ -1,5 +1,5 @@", "@@ -23,7 +23,7 @@"]);
  });

  it("prints what `diff -u` prints", () => {
    const dir = mkdtempSync(join(tmpdir(), "flowdiff-"));
    writeFileSync(join(dir, "a"), V1);
    writeFileSync(join(dir, "b"), V2);
    let printed = "";
    try {
      execFileSync("diff", ["-u", "--label", "v1", "--label", "v2", join(dir, "a"), join(dir, "b")], { encoding: "utf8" });
    } catch (error) {
      printed = (error as { stdout: string }).stdout; // exit status 1: they differ
    }
    expect(unifiedText(diffHunks(V1, V2), "v1", "v2")).toBe(printed);
  });

  it("gives back both versions whole, for any two texts (property)", () => {
    const line = fc.constantFrom("a", "b", "c", "", "  - name: x", "# note");
    const text = fc.array(line, { maxLength: 25 }).map((ls) => ls.map((l) => l + "\n").join(""));
    fc.assert(
      fc.property(text, text, (before, after) => {
        const hunks = diffHunks(before, after, Number.MAX_SAFE_INTEGER);
        if (before === after) {
          expect(hunks).toEqual([]); // the page says "the same", and draws nothing
          return;
        }
        const rows = hunks.flatMap((h) => h.rows);
        const old = rows.filter((r) => r.kind !== "add").map((r) => r.text + "\n").join("");
        const now = rows.filter((r) => r.kind !== "del").map((r) => r.text + "\n").join("");
        expect(old).toBe(before);
        expect(now).toBe(after);
        const pairs = sideBySide(rows);
        expect(pairs.filter((p) => p.left).map((p) => p.left!.line)).toEqual(rows.filter((r) => r.old !== null).map((r) => r.old));
        expect(pairs.filter((p) => p.right).map((p) => p.right!.line)).toEqual(rows.filter((r) => r.new !== null).map((r) => r.new));
      }),
      { numRuns: 500 },
    );
  });
});
