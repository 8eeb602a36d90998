// The logs query input with autocomplete: field names (service, severity,
// trace_id, attributes and resource attributes seen among the matches) and,
// after `key:`, their values (services, levels, top attribute values).
// ↑/↓ choose, Tab or Enter accept, Esc closes; Enter with nothing chosen runs.

import { useMemo, useRef, useState } from "preact/hooks";
import { facetKey, fieldTerm, type Fields } from "../../api/logs";
import { formatCount } from "../../lib/format";

const LEVEL_NAMES = ["trace", "debug", "info", "warn", "error", "fatal"];
const MAX = 12;

interface Suggestion {
  /** Replaces the token under the caret. */
  insert: string;
  label: string;
  kind: "field" | "value" | "level";
  detail?: string;
  /** Keep the list open after accepting (a field waits for its value). */
  more: boolean;
}

interface Token {
  start: number;
  end: number;
  text: string;
}

/** The word under the caret (after whitespace or a parenthesis), minus a leading `-`. */
function tokenAt(value: string, caret: number): Token {
  let start = caret;
  while (start > 0 && !/[\s(]/.test(value[start - 1] ?? "")) start--;
  if (value[start] === "-") start++;
  let end = caret;
  while (end < value.length && !/[\s)]/.test(value[end] ?? "")) end++;
  return { start, end, text: value.slice(start, caret) };
}

const OPERATOR = /^([\p{L}\p{N}_.-]+)(>=|<=|:|=|>|<)(.*)$/u;

export function suggest(token: string, fields: Fields | undefined, services: string[]): Suggestion[] {
  const m = OPERATOR.exec(token);
  if (m !== null) {
    const [, key = "", op = ":", rawPrefix = ""] = m;
    const prefix = rawPrefix.replace(/^"/, "").toLowerCase();
    const k = key.toLowerCase();
    let values: { value: string; count?: number }[];
    if (k === "service") values = services.map((value) => ({ value }));
    else if (k === "severity" || k === "level") values = LEVEL_NAMES.map((value) => ({ value }));
    else {
      const f = fields?.fields.find((x) => facetKey(x.field) === key && x.field !== "service" && x.field !== "severity");
      values = f?.values ?? [];
    }
    return values
      .filter((v) => v.value.toLowerCase().startsWith(prefix) && v.value !== rawPrefix)
      .slice(0, MAX)
      .flatMap((v) => {
        const term = fieldTerm(key, v.value);
        if (term === null) return [];
        return [
          {
            insert: `${term.replace(/^[^:]+:/, `${key}${op}`)} `,
            label: v.value,
            kind: k === "severity" || k === "level" ? "level" : "value",
            detail: v.count !== undefined ? formatCount(v.count) : undefined,
            more: false,
          } satisfies Suggestion,
        ];
      });
  }
  const t = token.toLowerCase();
  if (t === "") return [];
  const keys: Suggestion[] = [
    { insert: "service:", label: "service", kind: "field", detail: "the service", more: true },
    { insert: "severity>=", label: "severity", kind: "field", detail: "level or higher", more: true },
    { insert: "trace_id:", label: "trace_id", kind: "field", detail: "a trace's lines", more: false },
    { insert: "span_id:", label: "span_id", kind: "field", detail: "a span's lines", more: false },
  ];
  const seen = new Set(keys.map((k) => k.label));
  for (const f of fields?.fields ?? []) {
    const key = facetKey(f.field);
    if (seen.has(key) || fieldTerm(key, "x") === null) continue;
    seen.add(key);
    keys.push({
      insert: `${key}:`,
      label: key,
      kind: "field",
      detail: f.field.startsWith("resource.") ? "resource" : "attribute",
      more: true,
    });
  }
  return keys.filter((k) => k.label.toLowerCase().startsWith(t) && k.label.toLowerCase() !== t).slice(0, MAX);
}

export interface QueryInputProps {
  value: string;
  onInput: (v: string) => void;
  fields: Fields | undefined;
  services: string[];
  placeholder: string;
  /** Offer completions (the search language's fields and values); off for LogQL. */
  suggestions?: boolean;
}

export function QueryInput({ value, onInput, fields, services, placeholder, suggestions = true }: QueryInputProps) {
  const input = useRef<HTMLInputElement>(null);
  const [caret, setCaret] = useState(0);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);

  const token = tokenAt(value, caret);
  const items = useMemo(() => (open && suggestions ? suggest(token.text, fields, services) : []), [open, suggestions, token.text, fields, services]);

  const accept = (s: Suggestion) => {
    const before = value.slice(0, token.start);
    const after = value.slice(token.end);
    const next = before + s.insert + (s.insert.endsWith(" ") ? after.replace(/^\s+/, "") : after);
    const pos = before.length + s.insert.length;
    onInput(next);
    setCaret(pos);
    setActive(-1);
    setOpen(s.more);
    requestAnimationFrame(() => {
      input.current?.focus();
      input.current?.setSelectionRange(pos, pos);
    });
  };

  const sync = (el: HTMLInputElement) => setCaret(el.selectionStart ?? el.value.length);

  return (
    <div class="query-input">
      <input
        ref={input}
        id="search-input"
        data-testid="search-input"
        data-query-bar
        class="mono"
        type="search"
        autocomplete="off"
        spellcheck={false}
        // ARIA 1.2 combobox: the input itself, its own popup instead of a <datalist>.
        role="combobox"
        list={undefined}
        aria-label="Search logs"
        aria-expanded={items.length > 0}
        aria-controls={items.length > 0 ? "query-suggestions" : undefined}
        aria-activedescendant={items.length > 0 && active >= 0 ? `query-suggestion-${active}` : undefined}
        aria-autocomplete="list"
        placeholder={placeholder}
        value={value}
        onInput={(e) => {
          onInput(e.currentTarget.value);
          sync(e.currentTarget);
          setOpen(true);
          setActive(-1);
        }}
        onKeyUp={(e) => {
          if (e.key === "ArrowLeft" || e.key === "ArrowRight" || e.key === "Home" || e.key === "End") sync(e.currentTarget);
        }}
        onClick={(e) => sync(e.currentTarget)}
        onBlur={() => window.setTimeout(() => setOpen(false), 120)}
        onKeyDown={(e) => {
          if (items.length === 0) return;
          if (e.key === "ArrowDown") {
            e.preventDefault();
            setActive((a) => (a + 1) % items.length);
          } else if (e.key === "ArrowUp") {
            e.preventDefault();
            setActive((a) => (a <= 0 ? items.length - 1 : a - 1));
          } else if (e.key === "Tab" || (e.key === "Enter" && active >= 0)) {
            const s = items[active >= 0 ? active : 0];
            if (s !== undefined) {
              e.preventDefault();
              accept(s);
            }
          } else if (e.key === "Escape") {
            e.preventDefault();
            e.stopPropagation();
            setOpen(false);
          }
        }}
      />
      {items.length > 0 && (
        <ul class="popover suggest" id="query-suggestions" role="listbox" data-testid="query-suggestions">
          {items.map((s, i) => (
            <li
              key={`${s.kind}:${s.label}`}
              id={`query-suggestion-${i}`}
              role="option"
              aria-selected={i === active}
              class={i === active ? "active" : undefined}
              onMouseDown={(e) => {
                e.preventDefault();
                accept(s);
              }}
              onMouseEnter={() => setActive(i)}
            >
              <span class={`suggest-kind ${s.kind}`}>{s.kind === "field" ? "field" : s.kind === "level" ? "level" : "value"}</span>
              <span class={`suggest-label mono${s.kind === "level" ? ` sev-${s.label}` : ""}`}>{s.label}</span>
              {s.detail !== undefined && <span class="suggest-detail">{s.detail}</span>}
            </li>
          ))}
          <li class="suggest-help" aria-hidden="true">
            <kbd>↑</kbd>
            <kbd>↓</kbd> choose · <kbd>Tab</kbd> accept · <kbd>Esc</kbd> close
          </li>
        </ul>
      )}
    </div>
  );
}
