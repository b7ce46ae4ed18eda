// A job's log, virtualised (@tanstack/react-virtual): only the lines in sight are in the page,
// so a log of a million lines scrolls as one of ten. Follows the end while the reader is at
// the bottom; searches (matching lines marked, next/previous), jumps to the first error, and
// downloads what it holds as text.
import { useVirtualizer } from "@tanstack/react-virtual";
import { AnsiUp } from "ansi_up";
import { useEffect, useMemo, useRef, useState } from "react";

/** A line as it came: the view turns it into HTML only when it is in sight (a log printing
 * 50,000 lines a second costs a push per line, not a conversion). */
export interface ShownLine {
  id: number;
  stream: string;
  raw: string;
}

/** The terminal escapes (colours, OSC links): what search and download leave out. */
// eslint-disable-next-line no-control-regex -- the escapes are control characters
const ESCAPES = /\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\))/g;
export function plain(line: string): string {
  return line.includes("\x1b") ? line.replace(ESCAPES, "") : line;
}

/** A line's HTML: ansi_up escapes the text (<, >, &, quotes) and turns only ANSI colour codes
 * into spans (links it makes are limited to http and https). Each line on its own: a colour
 * left on at a line's end does not carry to the next. */
export function lineHtml(raw: string): string {
  const converter = new AnsiUp();
  converter.escape_html = true;
  converter.use_classes = true;
  return converter.ansi_to_html(raw);
}

const ERROR = /\b(error|fatal|failed|failure|exception|traceback)\b/i;

export function LogView(props: { lines: ShownLine[]; count: number; ended: boolean; dropped: number; name: string }) {
  const { lines, count } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const [follow, setFollow] = useState(true);
  const [query, setQuery] = useState("");
  const [current, setCurrent] = useState(0);
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => 19,
    overscan: 20,
    getItemKey: (index) => lines[index]?.id ?? index,
  });

  // Matching lines: found again when the query changes or lines come (searched up to `count`).
  const matches = useMemo(() => {
    const needle = query.trim().toLowerCase();
    if (!needle) return [];
    const found: number[] = [];
    for (let i = 0; i < count; i++) if (plain(lines[i].raw).toLowerCase().includes(needle)) found.push(i);
    return found;
  }, [query, count, lines]);
  const matched = useMemo(() => new Set(matches), [matches]);

  // Whether the last scroll was the reader's (wheel, keys, the scroll bar) or the view's own.
  const reader = useRef(false);
  useEffect(() => {
    if (!follow || count === 0) return;
    reader.current = false;
    virtualizer.scrollToIndex(count - 1, { align: "end" });
  }, [count, follow, virtualizer]);

  const goTo = (index: number) => {
    setFollow(false);
    reader.current = false;
    virtualizer.scrollToIndex(index, { align: "center" });
  };
  // A new search shows its first match (lines arriving later do not move the reader).
  const first = matches[0];
  useEffect(() => {
    if (first !== undefined) goTo(first);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only when the query changes
  }, [query]);
  const step = (by: number) => {
    if (matches.length === 0) return;
    const next = (current + by + matches.length) % matches.length;
    setCurrent(next);
    goTo(matches[next]);
  };
  const firstError = () => {
    for (let i = 0; i < count; i++) if (lines[i].stream === "stderr" || ERROR.test(plain(lines[i].raw))) return goTo(i);
  };
  const download = () => {
    const text = lines.slice(0, count).map((line) => plain(line.raw)).join("\n") + "\n";
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    link.download = `${props.name}.log`;
    link.click();
    window.setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  };

  return (
    <>
      <div className="log-head">
        <h3>Log</h3>
        <input
          type="search"
          className="log-search"
          placeholder="Search the log"
          aria-label="Search the log"
          value={query}
          onChange={(e) => {
            setQuery(e.target.value);
            setCurrent(0);
          }}
          onKeyDown={(e) => e.key === "Enter" && step(e.shiftKey ? -1 : 1)}
        />
        {query && (
          <span className="muted small" data-testid="log-matches">
            {matches.length ? `${current + 1}/${matches.length}` : "no match"}
          </span>
        )}
        <button type="button" onClick={() => step(-1)} disabled={!matches.length} aria-label="Previous match">
          ↑
        </button>
        <button type="button" onClick={() => step(1)} disabled={!matches.length} aria-label="Next match">
          ↓
        </button>
        <button type="button" onClick={firstError}>
          First error
        </button>
        <button type="button" onClick={download} disabled={count === 0}>
          Download
        </button>
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> follow
        </label>
      </div>
      <div
        className="log"
        ref={scroller}
        data-testid="log"
        data-ended={props.ended ? "yes" : "no"}
        data-count={count}
        tabIndex={0}
        aria-label="Log lines"
        // The reader scrolling up stops following; back at the bottom follows again. The view's
        // own scrolls (following lines that keep coming) change nothing.
        onWheel={() => (reader.current = true)}
        onPointerDown={() => (reader.current = true)}
        onTouchStart={() => (reader.current = true)}
        onKeyDown={() => (reader.current = true)}
        onScroll={(e) => {
          if (!reader.current) return;
          const log = e.currentTarget;
          setFollow(log.scrollHeight - log.scrollTop - log.clientHeight < 24);
        }}
      >
        {props.dropped > 0 && <div className="muted">… {props.dropped} earlier lines not kept</div>}
        <div className="log-lines" style={{ height: virtualizer.getTotalSize() }}>
          {virtualizer.getVirtualItems().map((item) => {
            const line = lines[item.index];
            const classes = `line ${line.stream}${matched.has(item.index) ? " match" : ""}${matches[current] === item.index ? " current" : ""}`;
            return (
              <div
                key={item.key}
                ref={virtualizer.measureElement}
                data-index={item.index}
                className={classes}
                data-line={line.id}
                style={{ transform: `translateY(${item.start}px)` }}
                // ansi_up escaped the text: see lineHtml
                dangerouslySetInnerHTML={{ __html: lineHtml(line.raw) }}
              />
            );
          })}
        </div>
        {props.ended && count === 0 && <div className="muted">No log lines.</div>}
      </div>
    </>
  );
}
