// A job's log, virtualised (@tanstack/react-virtual): only the lines in sight are in the page,
// so a log of a million lines scrolls as one of ten. Follows the end while the reader is at
// the bottom; searches (matching lines marked, next/previous), jumps to the first error, and
// downloads what it holds as text.
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useMemo, useRef, useState } from "react";

export interface ShownLine {
  id: number;
  stream: string;
  /** the line as ansi_up made it: text escaped, only colour spans added */
  html: string;
  text: string;
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
    for (let i = 0; i < count; i++) if (lines[i].text.toLowerCase().includes(needle)) found.push(i);
    return found;
  }, [query, count, lines]);
  const matched = useMemo(() => new Set(matches), [matches]);

  useEffect(() => {
    if (follow && count > 0) virtualizer.scrollToIndex(count - 1, { align: "end" });
  }, [count, follow, virtualizer]);

  const goTo = (index: number) => {
    setFollow(false);
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
    for (let i = 0; i < count; i++) if (lines[i].stream === "stderr" || ERROR.test(lines[i].text)) return goTo(i);
  };
  const download = () => {
    const text = lines.slice(0, count).map((line) => line.text).join("\n") + "\n";
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
        // Scrolling up to read stops following; back at the bottom follows again.
        onScroll={(e) => {
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
                // ansi_up escaped the text: see ShownLine
                dangerouslySetInnerHTML={{ __html: line.html }}
              />
            );
          })}
        </div>
        {props.ended && count === 0 && <div className="muted">No log lines.</div>}
      </div>
    </>
  );
}
