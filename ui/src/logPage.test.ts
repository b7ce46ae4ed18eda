import { describe, expect, it } from "vitest";
import { pageLines } from "./logPage";

const line = (id: number, text: string, stream = "stdout") => ({
  id,
  job: "build.unit.test",
  attempt: 1,
  seq: id,
  at: "2026-12-04T11:00:00Z",
  stream,
  line: text,
});

describe("pageLines", () => {
  it("gives every line of a page, in order, as shown lines", () => {
    const data = JSON.stringify([line(7, "one"), line(8, "\u001b[31mtwo\u001b[0m", "stderr"), line(9, "<img src=x>")]);
    expect(pageLines(data)).toEqual([
      { id: 7, stream: "stdout", raw: "one" },
      { id: 8, stream: "stderr", raw: "\u001b[31mtwo\u001b[0m" },
      { id: 9, stream: "stdout", raw: "<img src=x>" },
    ]);
  });

  it("keeps a page of thousands of lines whole", () => {
    const page = Array.from({ length: 1000 }, (_, i) => line(i + 1, `line ${i + 1}`));
    const shown = pageLines(JSON.stringify(page));
    expect(shown.map((l) => l.id)).toEqual(page.map((l) => l.id));
    expect(shown[999].raw).toBe("line 1000");
  });

  it("refuses data that is not an array of lines", () => {
    expect(() => pageLines(JSON.stringify(line(1, "one")))).toThrow(/not an array/);
    expect(() => pageLines("not json")).toThrow();
  });
});
