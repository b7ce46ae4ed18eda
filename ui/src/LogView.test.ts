import { describe, expect, it } from "vitest";
import { lineHtml, plain } from "./LogView";

describe("a log line", () => {
  it("is HTML with its text escaped and only colour spans added", () => {
    expect(lineHtml('<img src=x onerror="alert(1)"> & co')).toBe("&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; co");
    expect(lineHtml("\x1b[31mred\x1b[0m plain")).toBe('<span class="ansi-red-fg">red</span> plain');
  });

  it("keeps no colour from one line to the next", () => {
    expect(lineHtml("\x1b[32mgreen, never reset")).toContain("ansi-green-fg");
    expect(lineHtml("next line")).toBe("next line");
  });

  it("drops a javascript: link a terminal program printed (OSC 8), keeping its text", () => {
    const html = lineHtml("\x1b]8;;javascript:alert(1)\x1b\\click\x1b]8;;\x1b\\");
    expect(html).not.toContain("javascript");
    expect(html).not.toContain("<a");
  });

  it("is searched and downloaded without its escapes", () => {
    expect(plain("\x1b[1;31mERROR:\x1b[0m disk full")).toBe("ERROR: disk full");
    expect(plain("\x1b]8;;https://x.test\x1b\\link\x1b]8;;\x1b\\")).toBe("link");
    expect(plain("no escapes")).toBe("no escapes");
  });
});
