// Two versions of a flow compared line by line (jsdiff's structuredPatch), as rows the flow
// page shows as text: unified (one column, - and +) or side by side (old left, new right).
import { structuredPatch } from "diff";

export type RowKind = "same" | "del" | "add";

export interface Row {
  kind: RowKind;
  /** line number in the old version (null for an added line) */
  old: number | null;
  /** line number in the new version (null for a removed line) */
  new: number | null;
  text: string;
}

export interface Hunk {
  /** "@@ -3,7 +3,8 @@", as `diff -u` says it */
  header: string;
  rows: Row[];
}

export interface Side {
  kind: RowKind;
  line: number;
  text: string;
}

/** One line of the side-by-side view: the old line on the left, the new on the right. */
export interface Pair {
  left: Side | null;
  right: Side | null;
}

/** The changed places of `before` -> `after`, each with `context` unchanged lines around. */
export function diffHunks(before: string, after: string, context = 3): Hunk[] {
  const patch = structuredPatch("before", "after", before, after, "", "", { context });
  return patch.hunks.map((hunk) => {
    let old = hunk.oldStart;
    let now = hunk.newStart;
    const rows: Row[] = [];
    for (const line of hunk.lines) {
      const mark = line[0];
      const text = line.slice(1);
      if (mark === "\\") continue; // "\ No newline at end of file"
      if (mark === "-") rows.push({ kind: "del", old: old++, new: null, text });
      else if (mark === "+") rows.push({ kind: "add", old: null, new: now++, text });
      else rows.push({ kind: "same", old: old++, new: now++, text });
    }
    const header = `@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`;
    return { header, rows };
  });
}

/** Rows paired for two columns: a run of removed lines faces the added lines that follow it. */
export function sideBySide(rows: Row[]): Pair[] {
  const pairs: Pair[] = [];
  let i = 0;
  while (i < rows.length) {
    const row = rows[i];
    if (row.kind === "same") {
      pairs.push({ left: { kind: "same", line: row.old!, text: row.text }, right: { kind: "same", line: row.new!, text: row.text } });
      i++;
      continue;
    }
    const removed: Side[] = [];
    const added: Side[] = [];
    while (i < rows.length && rows[i].kind === "del") removed.push({ kind: "del", line: rows[i].old!, text: rows[i++].text });
    while (i < rows.length && rows[i].kind === "add") added.push({ kind: "add", line: rows[i].new!, text: rows[i++].text });
    for (let k = 0; k < Math.max(removed.length, added.length); k++) pairs.push({ left: removed[k] ?? null, right: added[k] ?? null });
  }
  return pairs;
}

/** How many lines the change adds and removes. */
export function diffStat(hunks: Hunk[]): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const hunk of hunks)
    for (const row of hunk.rows) {
      if (row.kind === "add") added++;
      else if (row.kind === "del") removed++;
    }
  return { added, removed };
}

/** The hunks as the text of a unified diff (what "copy" gives, and what `diff -u` prints). */
export function unifiedText(hunks: Hunk[], from: string, to: string): string {
  const mark: Record<RowKind, string> = { same: " ", del: "-", add: "+" };
  const body = hunks.flatMap((hunk) => [hunk.header, ...hunk.rows.map((row) => mark[row.kind] + row.text)]);
  return [`--- ${from}`, `+++ ${to}`, ...body].join("\n") + "\n";
}
