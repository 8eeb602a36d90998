// The dashboard being edited: a working copy of its JSON with an undo history
// (each change is one step; Ctrl+Z undoes), saved as a new version or dropped.

import { useEffect, useState } from "preact/hooks";
import type { Json } from "../model/grafana";

/** Steps kept for undo. */
const UNDO = 100;

export interface Draft {
  /** The working copy; null when not editing. */
  json: Json | null;
  canUndo: boolean;
  start: (from: Json) => void;
  apply: (fn: (d: Json) => Json) => void;
  undo: () => void;
  stop: () => void;
}

export function useDraft(): Draft {
  const [state, setState] = useState<{ json: Json | null; past: Json[] }>({ json: null, past: [] });
  const undo = () =>
    setState((s) => {
      const prev = s.past[s.past.length - 1];
      return prev === undefined ? s : { json: prev, past: s.past.slice(0, -1) };
    });
  useEffect(() => {
    if (state.json === null) return;
    const key = (e: KeyboardEvent) => {
      const t = e.target;
      const typing = t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
      if ((e.ctrlKey || e.metaKey) && e.key === "z" && !typing) {
        e.preventDefault();
        undo();
      }
    };
    window.addEventListener("keydown", key);
    return () => window.removeEventListener("keydown", key);
  }, [state.json !== null]);
  return {
    json: state.json,
    canUndo: state.past.length > 0,
    start: (from) => setState({ json: structuredClone(from), past: [] }),
    apply: (fn) =>
      setState((s) => {
        if (s.json === null) return s;
        const next = fn(s.json);
        return next === s.json ? s : { json: next, past: [...s.past, s.json].slice(-UNDO) };
      }),
    undo,
    stop: () => setState({ json: null, past: [] }),
  };
}
