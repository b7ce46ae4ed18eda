// Edits of a YAML text that change only the bytes they must. The canvas edits a flow through
// these: each one finds its place with the `yaml` package's parse (node ranges) and splices
// new text there, so comments, key order, quoting and formatting elsewhere stay byte for byte.
// Block collections get line-level edits; a flow collection ({...} or [...]) is re-written
// as a whole, still in flow style, through the package's Document API.
import {
  Document,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  stringify,
  type Node,
  type Pair,
  type YAMLMap,
  type YAMLSeq,
} from "yaml";

export type Path = (string | number)[];
export type Value = string | number | boolean | null | Value[] | { [key: string]: Value };

const OPTIONS = { lineWidth: 0, flowCollectionPadding: false } as const;

export class EditError extends Error {}

export function parse(text: string): Document.Parsed {
  return parseDocument(text, { keepSourceTokens: false, uniqueKeys: false });
}

function lineStart(text: string, at: number): number {
  return text.lastIndexOf("\n", at - 1) + 1;
}

function column(text: string, at: number): number {
  return at - lineStart(text, at);
}

/** The end of the line (after its newline) holding the last non-blank character before `at`. */
function lineEndAfter(text: string, from: number, at: number): number {
  let end = at;
  while (end > from && /\s/.test(text[end - 1])) end--;
  const newline = text.indexOf("\n", end);
  return newline < 0 ? text.length : newline + 1;
}

/** Where the last item (or pair) of a collection ends: its last line, and the blank lines
 * after it when nothing but blank lines follows (so that moving it keeps them with it). */
function lastEnd(text: string, from: number, at: number): number {
  const end = lineEndAfter(text, from, at);
  return text.slice(end).trim() === "" ? text.length : end;
}

function range(node: Node): [number, number] {
  const found = node.range;
  if (!found) throw new EditError("a node without a position in the text");
  return [found[0], found[1]];
}

/** `lines` indented by `indent` spaces, each ending in a newline. */
function indented(block: string, indent: number): string {
  const pad = " ".repeat(indent);
  return block
    .replace(/\n$/, "")
    .split("\n")
    .map((line) => (line ? pad + line : line))
    .join("\n")
    .concat("\n");
}

/** A value as a block of YAML lines (no indentation). */
function block(value: Value): string {
  return stringify(value, OPTIONS);
}

/** A value as a sequence item: "- " then its lines, aligned under the first. */
function itemText(value: Value, indent: number): string {
  const lines = block(value).replace(/\n$/, "").split("\n");
  const body = [`- ${lines[0]}`, ...lines.slice(1).map((line) => (line ? `  ${line}` : line))].join("\n");
  return indented(body, indent);
}

function splice(text: string, start: number, end: number, insert: string): string {
  return text.slice(0, start) + insert + text.slice(end);
}

function nodeAt(doc: Document.Parsed, path: Path): Node | undefined {
  return (path.length === 0 ? doc.contents : doc.getIn(path, true)) as Node | undefined;
}

function mapAt(doc: Document.Parsed, path: Path): YAMLMap {
  const node = nodeAt(doc, path);
  if (!isMap(node)) throw new EditError(`no mapping at ${path.join(".") || "the top"}`);
  return node;
}

function seqAt(doc: Document.Parsed, path: Path): YAMLSeq | undefined {
  const node = nodeAt(doc, path);
  if (node === undefined || node === null || (isScalar(node) && node.value === null)) return undefined;
  if (!isSeq(node)) throw new EditError(`no list at ${path.join(".")}`);
  return node;
}

/** Re-write a flow collection after `change` edits it, in flow style, where it stands. */
function rewriteFlow(text: string, doc: Document.Parsed, path: Path, change: (node: YAMLMap | YAMLSeq) => void): string {
  const node = nodeAt(doc, path) as YAMLMap | YAMLSeq;
  const [start, end] = range(node);
  change(node);
  const single = new Document(null);
  single.contents = node;
  return splice(text, start, end, single.toString({ ...OPTIONS, lineWidth: 1e6 }).replace(/\n$/, ""));
}

/** Where the "- " of a block sequence's item is (the item may start on the next line). */
function dashOf(text: string, item: Node): number {
  let at = range(item)[0] - 1;
  while (at >= 0 && /\s/.test(text[at])) at--;
  return at >= 0 && text[at] === "-" ? at : range(item)[0];
}

/** Where the text of item `index` of a block sequence starts and ends (whole lines). */
function itemSpan(text: string, seq: YAMLSeq, index: number): [number, number] {
  const items = seq.items as Node[];
  const start = lineStart(text, dashOf(text, items[index]));
  if (index + 1 < items.length) return [start, lineStart(text, dashOf(text, items[index + 1]))];
  return [start, lastEnd(text, start, range(items[index])[1])];
}

function pairOf(map: YAMLMap, key: string): Pair<Node, Node | null> | undefined {
  return (map.items as Pair<Node, Node | null>[]).find((pair) => isScalar(pair.key) && String(pair.key.value) === key);
}

/** Where a block mapping's pair starts and ends (whole lines). */
function pairSpan(text: string, map: YAMLMap, pair: Pair<Node, Node | null>): [number, number] {
  const pairs = map.items as Pair<Node, Node | null>[];
  const index = pairs.indexOf(pair);
  const keyStart = range(pair.key)[0];
  const start = index === 0 ? keyStart : lineStart(text, keyStart); // the first pair may follow "- "
  if (index + 1 < pairs.length) return [start, lineStart(text, range(pairs[index + 1].key)[0])];
  const last = pair.value ? range(pair.value)[1] : range(pair.key)[1];
  return [start, lastEnd(text, start, last)];
}

/** Insert `value` as item `index` of the list at `path` (made when missing). */
export function insertItem(text: string, path: Path, index: number, value: Value): string {
  const doc = parse(text);
  const seq = seqAt(doc, path);
  if (seq === undefined || (seq.flow && seq.items.length === 0)) {
    return setKey(text, path.slice(0, -1), String(path[path.length - 1]), [value]);
  }
  if (seq.flow) return rewriteFlow(text, doc, path, (node) => (node as YAMLSeq).items.splice(index, 0, doc.createNode(value)));
  const items = seq.items as Node[];
  const dash = dashOf(text, items[0]);
  const at = index < items.length ? itemSpan(text, seq, index)[0] : itemSpan(text, seq, items.length - 1)[1];
  return splice(text, at, at, withBreak(text, at, itemText(value, column(text, dash))));
}

/** Remove item `index` of the list at `path`. */
export function removeItem(text: string, path: Path, index: number): string {
  const doc = parse(text);
  const seq = seqAt(doc, path);
  if (seq === undefined || index >= seq.items.length) throw new EditError(`no item ${index} at ${path.join(".")}`);
  if (seq.flow) return rewriteFlow(text, doc, path, (node) => void node.items.splice(index, 1));
  if (seq.items.length === 1) return setKey(text, path.slice(0, -1), String(path[path.length - 1]), []);
  const [start, end] = itemSpan(text, seq, index);
  // the last item of a text without a final newline: the newline before it goes with it
  const eat = end === text.length && !text.endsWith("\n") && start > 0 ? 1 : 0;
  return splice(text, start - eat, end, "");
}

/** The item's own text, and the column of its "- ". */
function itemSource(text: string, seq: YAMLSeq, index: number): { source: string; indent: number } {
  const [start, end] = itemSpan(text, seq, index);
  const source = text.slice(start, end);
  return { source: source.endsWith("\n") ? source : source + "\n", indent: column(text, dashOf(text, seq.items[index] as Node)) };
}

/** Move item `from` of the list at `path` to `to` of the list at `target` (default: the same
 * list); an item of a block list keeps its own bytes (re-indented when the lists' indents
 * differ). */
export function moveItem(text: string, path: Path, from: number, target: Path, to: number): string {
  const doc = parse(text);
  const seq = seqAt(doc, path);
  if (seq === undefined || from >= seq.items.length) throw new EditError(`no item ${from} at ${path.join(".")}`);
  const same = target.join("\u0000") === path.join("\u0000");
  if (same && (to === from || to === from + 1)) return text;
  const value = (seq.items[from] as Node).toJSON() as Value;
  const source = seq.flow ? undefined : itemSource(text, seq, from);
  const removed = removeItem(text, path, from);
  return insertSource(removed, target, same && to > from ? to - 1 : to, value, source);
}

/** Insert an item given by its text (`source`, written at column `indent`) where it can be
 * kept as it is, else by its value. */
function insertSource(
  text: string,
  path: Path,
  index: number,
  value: Value,
  source: { source: string; indent: number } | undefined,
): string {
  if (source === undefined) return insertItem(text, path, index, value);
  const doc = parse(text);
  const seq = seqAt(doc, path);
  if (seq !== undefined && !seq.flow && seq.items.length > 0) {
    const items = seq.items as Node[];
    const indent = column(text, dashOf(text, items[0]));
    const at = index < items.length ? itemSpan(text, seq, index)[0] : itemSpan(text, seq, items.length - 1)[1];
    return splice(text, at, at, withBreak(text, at, shift(source.source, indent - source.indent)));
  }
  const map = mapAt(doc, path.slice(0, -1));
  const pair = pairOf(map, String(path[path.length - 1]));
  if ((seq !== undefined && seq.items.length > 0) || map.flow || pair === undefined) {
    return insertItem(text, path, index, value);
  }
  // an empty or missing list: the pair becomes a block list of this one item
  const [start, end] = pairSpan(text, map, pair);
  const keyColumn = column(text, range(pair.key)[0]);
  const head = start === lineStart(text, start) ? " ".repeat(keyColumn) : "";
  const key = text.slice(range(pair.key)[0], range(pair.key)[1]);
  return splice(text, start, end, `${head}${key}:\n${shift(source.source, keyColumn + 2 - source.indent)}`);
}

/** `insert` as it must go at `at`: after a newline, and at the end of a text that ends
 * without one, without one either. */
function withBreak(text: string, at: number, insert: string): string {
  if (at === text.length && at > 0 && !text.endsWith("\n")) return "\n" + insert.replace(/\n$/, "");
  return at > 0 && text[at - 1] !== "\n" ? "\n" + insert : insert;
}

function shift(source: string, by: number): string {
  if (by === 0) return source;
  return source
    .split("\n")
    .map((line) => (line.trim() === "" ? line : by > 0 ? " ".repeat(by) + line : line.slice(Math.min(-by, line.length - line.trimStart().length))))
    .join("\n");
}

/** Set `key` of the mapping at `path` to `value` (added after its last key when missing),
 * or remove it when `value` is undefined. */
export function setKey(text: string, path: Path, key: string, value: Value | undefined): string {
  const doc = parse(text);
  const map = mapAt(doc, path);
  const pair = pairOf(map, key);
  if (map.flow) {
    return rewriteFlow(text, doc, path, (node) => {
      if (value === undefined) (node as YAMLMap).delete(key);
      else (node as YAMLMap).set(key, doc.createNode(value));
    });
  }
  if (pair === undefined) {
    if (value === undefined) return text;
    if (map.items.length === 0) throw new EditError(`an empty mapping at ${path.join(".")}`);
    const pairs = map.items as Pair<Node, Node | null>[];
    const firstKey = range(pairs[0].key)[0];
    const at = pairSpan(text, map, pairs[pairs.length - 1])[1];
    return splice(text, at, at, withBreak(text, at, indented(block({ [key]: value }), column(text, firstKey))));
  }
  const old = pair.value;
  if (value !== undefined && old && isScalar(old) && (typeof value !== "object" || value === null) && old.value !== null) {
    const [start, end] = range(old);
    return splice(text, start, end, block(value).replace(/\n$/, ""));
  }
  const [start, end] = pairSpan(text, map, pair);
  if (value === undefined) {
    if (map.items.length === 1) throw new EditError(`removing the only key of ${path.join(".")}`);
    const pairs = map.items as Pair<Node, Node | null>[];
    if (pairs.indexOf(pair) === 0) {
      // the first key may follow "- ": the next key takes its place on that line
      const nextKey = range(pairs[1].key)[0];
      return splice(text, start, nextKey, "");
    }
    return splice(text, start, end, "");
  }
  const keyColumn = column(text, range(pair.key)[0]);
  const written = indented(block({ [key]: value }), keyColumn);
  return splice(text, start, end, start === lineStart(text, start) ? written : written.slice(keyColumn));
}

/** Whether `text` is YAML without syntax errors. */
export function syntaxErrors(text: string): { message: string; line: number; column: number }[] {
  return parse(text).errors.map((error) => ({
    message: error.message.split("\n")[0],
    line: error.linePos?.[0].line ?? 1,
    column: error.linePos?.[0].col ?? 1,
  }));
}
