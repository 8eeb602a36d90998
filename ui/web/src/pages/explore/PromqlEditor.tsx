// The PromQL editor: CodeMirror 6 with @prometheus-io/codemirror-promql
// (highlighting, linting, autocomplete of functions, metric names, label
// names and values from Osprey's own Prometheus API on this origin, with the
// URL's tenant). Enter runs the query, Shift+Enter adds a line.
// Loaded only with the explore view.

import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, insertNewline } from "@codemirror/commands";
import { bracketMatching, HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { lintKeymap } from "@codemirror/lint";
import { EditorState } from "@codemirror/state";
import { EditorView, keymap, placeholder } from "@codemirror/view";
import { tags } from "@lezer/highlight";
import { PromQLExtension } from "@prometheus-io/codemirror-promql";
import { useEffect, useRef } from "preact/hooks";
import { tenantHeaders } from "../../api/http";

const highlight = HighlightStyle.define([
  { tag: tags.keyword, color: "var(--ansi-5)" },
  { tag: tags.function(tags.variableName), color: "var(--ansi-4)" },
  { tag: tags.labelName, color: "var(--ansi-6)" },
  { tag: tags.string, color: "var(--ansi-2)" },
  { tag: tags.number, color: "var(--ansi-3)" },
  { tag: tags.operator, color: "var(--text-muted)" },
  { tag: tags.modifier, color: "var(--ansi-5)" },
  { tag: tags.paren, color: "var(--text-muted)" },
  { tag: tags.squareBracket, color: "var(--text-muted)" },
  { tag: tags.brace, color: "var(--text-muted)" },
  { tag: tags.invalid, color: "var(--danger)" },
  { tag: tags.comment, color: "var(--text-faint)", fontStyle: "italic" },
]);

const editorTheme = EditorView.theme({
  "&": {
    fontSize: "12.5px",
    backgroundColor: "var(--bg-elev)",
    color: "var(--text)",
  },
  "&.cm-focused": { outline: "none" },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "20px" },
  ".cm-content": { padding: "6px 0", caretColor: "var(--accent)" },
  ".cm-line": { padding: "0 10px" },
  ".cm-cursor": { borderLeftColor: "var(--accent)" },
  ".cm-placeholder": { color: "var(--text-faint)" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": { backgroundColor: "var(--accent-bg) !important" },
  ".cm-matchingBracket": { backgroundColor: "var(--accent-bg)", outline: "1px solid var(--accent)" },
  ".cm-tooltip": {
    border: "1px solid var(--border-strong)",
    borderRadius: "6px",
    backgroundColor: "var(--bg-elev)",
    color: "var(--text)",
    boxShadow: "var(--shadow)",
    overflow: "hidden",
  },
  ".cm-tooltip-autocomplete > ul": { fontFamily: "var(--mono)", fontSize: "12px", maxHeight: "18em" },
  ".cm-tooltip-autocomplete > ul > li": { padding: "2px 8px !important", lineHeight: "20px" },
  ".cm-tooltip-autocomplete > ul > li[aria-selected]": { backgroundColor: "var(--accent-bg)", color: "var(--text)" },
  ".cm-completionDetail": { color: "var(--text-faint)", fontStyle: "normal", marginLeft: "12px" },
  ".cm-completionMatchedText": { textDecoration: "none", fontWeight: "700", color: "var(--accent-text)" },
  ".cm-completionInfo": {
    padding: "6px 10px",
    maxWidth: "420px",
    fontFamily: "var(--font)",
    border: "1px solid var(--border-strong)",
    backgroundColor: "var(--bg-elev)",
  },
  ".cm-diagnostic-error": { borderLeftColor: "var(--danger)" },
  ".cm-lintRange-error": { backgroundImage: "none", textDecoration: "underline wavy var(--danger)" },
});

/** Fetch for the completion client: same origin, the URL's tenant as X-Scope-OrgID. */
const fetchWithTenant = (input: RequestInfo, init?: RequestInit): Promise<Response> => {
  const headers = new Headers(init?.headers);
  for (const [k, v] of Object.entries(tenantHeaders())) headers.set(k, v);
  return fetch(input, { ...init, headers });
};

export interface PromqlEditorProps {
  /**
   * The committed query (the URL's): the editor shows it when it changes
   * (back/forward, a link). Typing does not feed back into it; the editor is
   * uncontrolled while the user types.
   */
  value: string;
  onChange: (v: string) => void;
  onRun: (v: string) => void;
}

export function PromqlEditor({ value, onChange, onRun }: PromqlEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const cb = useRef({ onChange, onRun });
  cb.current = { onChange, onRun };

  useEffect(() => {
    if (host.current === null) return;
    const promql = new PromQLExtension().setComplete({
      remote: {
        url: "",
        fetchFn: fetchWithTenant,
        httpMethod: "POST",
        cache: { maxAge: 60_000 },
      },
    });
    const run = (v: EditorView) => {
      cb.current.onRun(v.state.doc.toString());
      return true;
    };
    const state = EditorState.create({
      doc: value,
      extensions: [
        history(),
        closeBrackets(),
        bracketMatching(),
        autocompletion({ icons: false, activateOnTyping: true }),
        placeholder("Enter a PromQL query, e.g. sum by (service_name) (rate(traces_span_metrics_calls_total[5m]))"),
        // Ahead of the default keymaps: Enter runs unless the completion list takes it.
        keymap.of([...completionKeymap]),
        keymap.of([
          { key: "Enter", run },
          { key: "Mod-Enter", run },
          { key: "Shift-Enter", run: insertNewline },
          ...closeBracketsKeymap,
          ...historyKeymap,
          ...lintKeymap,
          ...defaultKeymap,
        ]),
        EditorView.lineWrapping,
        editorTheme,
        syntaxHighlighting(highlight),
        promql.asExtension(),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) cb.current.onChange(u.state.doc.toString());
        }),
        EditorView.contentAttributes.of({ "aria-label": "PromQL query", "data-testid": "promql-input" }),
      ],
    });
    const v = new EditorView({ state, parent: host.current });
    view.current = v;
    return () => {
      v.destroy();
      promql.destroy();
      view.current = null;
    };
  }, []);

  // The committed query changed (back/forward, a link, a run): show it.
  useEffect(() => {
    const v = view.current;
    if (v === null) return;
    const cur = v.state.doc.toString();
    if (cur !== value) v.dispatch({ changes: { from: 0, to: cur.length, insert: value } });
  }, [value]);

  return <div class="promql-editor" data-query-bar ref={host} data-testid="promql-editor" />;
}
