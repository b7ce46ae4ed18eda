// The flow's YAML in CodeMirror 6, beside the canvas. The editor lives in a shadow root: its
// styles go into a constructed style sheet there, which the page's Content-Security-Policy
// (no inline <style>) allows. Problems from the server's validator are marked at their line
// and column; keys are completed from the flow JSON Schema.
import { autocompletion, completionKeymap, type CompletionContext, type CompletionResult } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { yaml } from "@codemirror/lang-yaml";
import { bracketMatching, HighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { tags } from "@lezer/highlight";
import { lintGutter, setDiagnostics, type Diagnostic } from "@codemirror/lint";
import { EditorState } from "@codemirror/state";
import { EditorView, highlightActiveLine, keymap, lineNumbers } from "@codemirror/view";
import { useEffect, useRef } from "react";
import { keysAt, type JsonSchema } from "./schemaKeys";

export interface Problem {
  severity: "error" | "warning" | string;
  message: string;
  line: number | null;
  column: number | null;
}

/** The position of a 1-based line and column in the document, kept inside it. */
function position(state: EditorState, line: number | null, column: number | null): number {
  const count = state.doc.lines;
  const at = state.doc.line(Math.min(Math.max(line ?? 1, 1), count));
  return Math.min(at.from + Math.max((column ?? 1) - 1, 0), at.to);
}

export function toDiagnostics(state: EditorState, problems: Problem[]): Diagnostic[] {
  return problems.map((problem) => {
    const from = position(state, problem.line, problem.column);
    const line = state.doc.lineAt(from);
    const to = problem.column ? Math.min(Math.max(from + 1, line.to), line.to) : line.to;
    return {
      from: problem.column ? from : line.from,
      to: Math.max(to, from),
      severity: problem.severity === "error" ? "error" : "warning",
      message: problem.line ? `line ${problem.line}${problem.column ? `, column ${problem.column}` : ""}: ${problem.message}` : problem.message,
    };
  });
}

/** Colours from the page's own variables: readable in light and dark alike. */
const highlight = HighlightStyle.define([
  { tag: [tags.propertyName, tags.definition(tags.propertyName)], color: "var(--link)" },
  { tag: [tags.string, tags.special(tags.string)], color: "var(--success)" },
  { tag: [tags.number, tags.bool, tags.null, tags.atom, tags.keyword], color: "var(--cancelled)" },
  { tag: [tags.comment, tags.meta], color: "var(--muted)", fontStyle: "italic" },
  { tag: tags.invalid, color: "var(--failure)" },
]);

const theme = EditorView.theme({
  "&": { height: "100%", fontSize: "13px", backgroundColor: "var(--bg)", color: "var(--fg)" },
  ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" },
  ".cm-gutters": { backgroundColor: "var(--panel)", color: "var(--muted)", border: "none" },
  ".cm-activeLine": { backgroundColor: "var(--editor-active, rgba(0,0,0,0.04))" },
  "&.cm-focused": { outline: "2px solid var(--link)" },
});

export function YamlEditor(props: {
  text: string;
  problems: Problem[];
  schema: JsonSchema | null;
  onChange: (text: string) => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    const element = host.current!;
    const shadow = element.shadowRoot ?? element.attachShadow({ mode: "open" });
    const mount = document.createElement("div");
    mount.style.height = "100%";
    shadow.replaceChildren(mount);
    const complete = (context: CompletionContext): CompletionResult | null => {
      const word = context.matchBefore(/[A-Za-z_][\w-]*/);
      if (!word && !context.explicit) return null;
      const schema = latest.current.schema;
      if (!schema) return null;
      const options = keysAt(schema, context.state.doc.toString(), context.pos);
      if (options.length === 0) return null;
      return {
        from: word ? word.from : context.pos,
        options: options.map((option) => ({ label: option.key, type: "property", info: option.description, apply: `${option.key}: ` })),
      };
    };
    view.current = new EditorView({
      root: shadow,
      parent: mount,
      state: EditorState.create({
        doc: latest.current.text,
        extensions: [
          lineNumbers(),
          history(),
          indentOnInput(),
          bracketMatching(),
          highlightActiveLine(),
          syntaxHighlighting(highlight),
          yaml(),
          lintGutter(),
          autocompletion({ override: [complete] }),
          keymap.of([...defaultKeymap, ...historyKeymap, ...completionKeymap]),
          EditorState.tabSize.of(2),
          theme,
          EditorView.contentAttributes.of({ "aria-label": "Flow YAML", "data-testid": "yaml-input" }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) latest.current.onChange(update.state.doc.toString());
          }),
        ],
      }),
    });
    return () => {
      view.current?.destroy();
      view.current = null;
    };
  }, []);

  // The canvas changed the text: apply only the changed span, so the cursor and undo stay.
  useEffect(() => {
    const current = view.current;
    if (!current) return;
    const old = current.state.doc.toString();
    const next = props.text;
    if (old === next) return;
    let start = 0;
    while (start < old.length && start < next.length && old[start] === next[start]) start++;
    let end = 0;
    while (end < old.length - start && end < next.length - start && old[old.length - 1 - end] === next[next.length - 1 - end]) end++;
    current.dispatch({ changes: { from: start, to: old.length - end, insert: next.slice(start, next.length - end) } });
  }, [props.text]);

  // The problems of the text shown: marked where they are (the validator answers after a change).
  useEffect(() => {
    const current = view.current;
    if (current) current.dispatch(setDiagnostics(current.state, toDiagnostics(current.state, props.problems)));
  }, [props.problems]);

  return <div className="yaml-editor" ref={host} data-testid="yaml-editor" />;
}
