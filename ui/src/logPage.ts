import type { LogLine } from "./api";
import type { ShownLine } from "./LogView";

/** The query asking the log stream for `lines` events: one JSON array of up to a page of
 * lines per event, so the browser parses one JSON text per page, not one per line. */
export const PAGE_QUERY = { batch: "page" } as const;

/** The lines of one `lines` event's data, in order; data that is not an array of lines is
 * refused with an error saying so rather than shown as lines. */
export function pageLines(data: string): ShownLine[] {
  const page: unknown = JSON.parse(data);
  if (!Array.isArray(page)) throw new Error("a lines event's data is not an array");
  return (page as LogLine[]).map((line) => ({ id: line.id, stream: line.stream, raw: line.line }));
}
