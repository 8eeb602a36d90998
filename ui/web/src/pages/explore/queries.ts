// The explore view's queries in the URL: one `q` per query, in order
// (`?q=a&q=b`; a link with a single `?q=` is one query), `hide=B,C` the
// disabled ones by letter. And the query history, kept in localStorage.

import { navigate, serialize } from "../../router";

export interface QuerySpec {
  expr: string;
  enabled: boolean;
}

export const MAX_QUERIES = 10;

/** A query's name by position: A, B, C… */
export function letter(i: number): string {
  return String.fromCharCode(65 + i);
}

export function readQueries(params: URLSearchParams): QuerySpec[] {
  const exprs = params.getAll("q").slice(0, MAX_QUERIES);
  if (exprs.length === 0) return [{ expr: "", enabled: true }];
  const hide = new Set((params.get("hide") ?? "").split(",").map((s) => s.trim().toUpperCase()));
  return exprs.map((expr, i) => ({ expr, enabled: !hide.has(letter(i)) }));
}

/** Writes the queries into the URL (a history entry unless `replace`). */
export function writeQueries(list: QuerySpec[], replace = false): void {
  const params = new URLSearchParams(window.location.search);
  params.delete("q");
  params.delete("hide");
  const single = list.length === 1 && list[0]?.expr === "";
  if (!single) for (const s of list) params.append("q", s.expr);
  const hidden = list.flatMap((s, i) => (s.enabled ? [] : [letter(i)]));
  if (hidden.length > 0 && !single) params.set("hide", hidden.join(","));
  const qs = serialize(params);
  navigate(`${window.location.pathname}${qs === "" ? "" : `?${qs}`}`, { replace });
}

/** Identity of a list of queries, for effects and loads. */
export function queriesKey(list: QuerySpec[]): string {
  return JSON.stringify(list.map((s) => [s.expr, s.enabled]));
}

const HISTORY_KEY = "osprey.explore.history";
const HISTORY_MAX = 30;

export function readHistory(): string[] {
  try {
    const v = JSON.parse(window.localStorage.getItem(HISTORY_KEY) ?? "[]") as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string").slice(0, HISTORY_MAX) : [];
  } catch {
    return [];
  }
}

/** Puts queries at the top of the history (newest first, no duplicates). */
export function remember(qs: string[]): void {
  const fresh = qs.filter((q) => q !== "");
  if (fresh.length === 0) return;
  try {
    const list = [...fresh, ...readHistory().filter((x) => !fresh.includes(x))].slice(0, HISTORY_MAX);
    window.localStorage.setItem(HISTORY_KEY, JSON.stringify(list));
  } catch {
    // Storage unavailable.
  }
}
