// The variables bar: a picker per shown variable (hide 0 or 1) — a text box,
// a single select, or a multi-select with "All" — writing the selection to the
// URL as Grafana does (`var-<name>`, repeated for several values).

import { useEffect, useRef, useState } from "preact/hooks";
import { useDismiss } from "../../../lib/dismiss";
import { navigate, serialize } from "../../../router";
import { ALL, type Resolved } from "../model/variables";

export function setSelection(name: string, values: string[]): void {
  const params = new URLSearchParams(window.location.search);
  params.delete(`var-${name}`);
  for (const v of values) params.append(`var-${name}`, v);
  const qs = serialize(params);
  navigate(`${window.location.pathname}${qs === "" ? "" : `?${qs}`}`);
}

function TextBox({ r }: { r: Resolved }) {
  const [text, setText] = useState(r.selected[0] ?? "");
  useEffect(() => setText(r.selected[0] ?? ""), [r.selected[0]]);
  return (
    <input
      class="dash-var-input"
      value={text}
      data-testid={`var-${r.v.name}`}
      onInput={(e) => setText(e.currentTarget.value)}
      onKeyDown={(e) => {
        if (e.key === "Enter") setSelection(r.v.name, [text]);
      }}
      onBlur={() => text !== (r.selected[0] ?? "") && setSelection(r.v.name, [text])}
    />
  );
}

function Single({ r }: { r: Resolved }) {
  const opts = r.v.includeAll ? [{ text: "All", value: ALL }, ...r.options] : r.options;
  return (
    <select class="dash-var-select" data-testid={`var-${r.v.name}`} value={r.selected[0] ?? ""} onChange={(e) => setSelection(r.v.name, [e.currentTarget.value])}>
      {opts.map((o) => (
        <option key={o.value} value={o.value}>
          {o.text}
        </option>
      ))}
    </select>
  );
}

function Multi({ r }: { r: Resolved }) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  useDismiss(open, root, () => setOpen(false));
  const all = r.selected.includes(ALL);
  const label = all ? "All" : r.selected.map((s) => r.options.find((o) => o.value === s)?.text ?? s).join(" + ") || "None";
  const toggle = (value: string) => {
    if (value === ALL) return setSelection(r.v.name, all ? [] : [ALL]);
    const cur = all ? [] : r.selected;
    const next = cur.includes(value) ? cur.filter((x) => x !== value) : [...cur, value];
    setSelection(r.v.name, next.length === 0 && r.v.includeAll ? [ALL] : next);
  };
  return (
    <div class="dash-var-multi" ref={root}>
      <button type="button" class="dash-var-select" data-testid={`var-${r.v.name}`} aria-expanded={open} onClick={() => setOpen(!open)}>
        {label}
      </button>
      {open && (
        <ul class="dash-menu" role="listbox" aria-multiselectable="true">
          {r.v.includeAll && (
            <li>
              <label>
                <input type="checkbox" checked={all} onChange={() => toggle(ALL)} /> All
              </label>
            </li>
          )}
          {r.options.map((o) => (
            <li key={o.value}>
              <label>
                <input type="checkbox" checked={!all && r.selected.includes(o.value)} onChange={() => toggle(o.value)} data-testid={`var-option-${o.value}`} /> {o.text}
              </label>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function VariablesBar({ resolved }: { resolved: Resolved[] }) {
  const shown = resolved.filter((r) => r.v.hide !== 2);
  if (shown.length === 0) return null;
  return (
    <div class="dash-vars" data-testid="dash-vars">
      {shown.map((r) => (
        <div class="dash-var" key={r.v.name}>
          {r.v.hide !== 1 && <label class="dash-var-label">{r.v.label || r.v.name}</label>}
          {r.v.type === "textbox" ? <TextBox r={r} /> : r.v.multi ? <Multi r={r} /> : <Single r={r} />}
          {r.error !== null && (
            <span class="dash-var-error" title={r.error}>
              ⚠
            </span>
          )}
        </div>
      ))}
    </div>
  );
}
