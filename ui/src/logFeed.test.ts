import { describe, expect, it } from "vitest";
import { logFeed, type Frames } from "./logFeed";

/** Frames that run only when the test says so. */
function manualFrames(): Frames & { run(): void; waiting(): number } {
  const callbacks = new Map<number, () => void>();
  let next = 1;
  return {
    request(callback) {
      callbacks.set(next, callback);
      return next++;
    },
    cancel(handle) {
      callbacks.delete(handle);
    },
    run() {
      const due = [...callbacks.values()];
      callbacks.clear();
      due.forEach((callback) => callback());
    },
    waiting: () => callbacks.size,
  };
}

describe("logFeed", () => {
  it("delivers the lines of a frame as one batch", () => {
    const frames = manualFrames();
    const batches: string[][] = [];
    const feed = logFeed<string>(frames, (batch) => batches.push(batch), () => {});
    feed.line("a");
    feed.line("b");
    expect(batches).toEqual([]);
    expect(frames.waiting()).toBe(1);
    frames.run();
    feed.line("c");
    frames.run();
    expect(batches).toEqual([["a", "b"], ["c"]]);
  });

  it("delivers pending lines before the end, in the same turn", () => {
    const frames = manualFrames();
    const seen: string[] = [];
    const feed = logFeed<string>(
      frames,
      (batch) => seen.push(...batch),
      () => seen.push("<end>"),
    );
    feed.line("compiling");
    feed.line("compiled");
    feed.end(); // no frame has run: the lines came in the same chunk as the end
    expect(seen).toEqual(["compiling", "compiled", "<end>"]);
    expect(frames.waiting()).toBe(0);
  });

  it("an end with nothing pending delivers no empty batch, and close drops the frame", () => {
    const frames = manualFrames();
    const batches: string[][] = [];
    let ended = 0;
    const feed = logFeed<string>(frames, (batch) => batches.push(batch), () => ended++);
    feed.end();
    expect([batches, ended]).toEqual([[], 1]);
    feed.line("late");
    feed.close();
    frames.run();
    expect(batches).toEqual([]);
  });
});

describe("logFeed pages", () => {
  it("shows a page of lines in the next frame, after lines that came before it", () => {
    const frames = manualFrames();
    const batches: string[][] = [];
    const feed = logFeed<string>(frames, (batch) => batches.push(batch), () => {});
    feed.line("a");
    feed.lines(["b", "c"]);
    feed.lines([]);
    expect(frames.waiting()).toBe(1);
    frames.run();
    expect(batches).toEqual([["a", "b", "c"]]);
    feed.lines([]);
    expect(frames.waiting()).toBe(0);
  });
});
