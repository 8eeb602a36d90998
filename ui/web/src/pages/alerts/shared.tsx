// Pieces the alerts page's tabs share: label chips, state badges, relative times
// and the Explore link of a rule's expression.

import type { ComponentChildren } from "preact";
import { formatDuration, formatUtc, toUrlTime } from "../../lib/time";
import { hrefTo, onLinkClick } from "../../router";

/** `3m ago` (or `in 3m`), with the UTC time as its title. */
export function Ago({ ms, now }: { ms: number | null; now: number }) {
  if (ms === null) return <span class="faint">never</span>;
  const d = now - ms;
  const text = d >= 0 ? `${formatDuration(d)} ago` : `in ${formatDuration(-d)}`;
  return (
    <time dateTime={new Date(ms).toISOString()} title={`${formatUtc(ms)} UTC`}>
      {d >= 0 && d < 1000 ? "just now" : text}
    </time>
  );
}

export function StateBadge({ state }: { state: string }) {
  return (
    <span class={`alert-badge state-${state}`} data-testid="state-badge">
      {state}
    </span>
  );
}

/** A label set as chips; `skip` leaves names out (the alert name shown beside it). */
export function Labels({ labels, skip = [] }: { labels: Record<string, string>; skip?: string[] }) {
  const entries = Object.entries(labels).filter(([k]) => !skip.includes(k));
  if (entries.length === 0) return <span class="faint">no labels</span>;
  return (
    <span class="label-chips">
      {entries.map(([k, v]) => (
        <span key={k} class="label-chip mono" title={`${k}="${v}"`}>
          <span class="label-name">{k}</span>=<span class="label-value">{v}</span>
        </span>
      ))}
    </span>
  );
}

const COMPARISONS = [">=", "<=", "==", "!=", ">", "<"];

/**
 * An alert expression `A > threshold` as its two sides (`A`, `threshold`), so both can
 * be graphed and the crossing seen; null when the expression's top level is not one
 * comparison (a set operation, a `bool` or a matching modifier).
 */
export function thresholdSplit(expr: string): [string, string] | null {
  let depth = 0;
  let quote: string | null = null;
  let at: [number, string] | null = null;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i] ?? "";
    if (quote !== null) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") quote = c;
    else if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) depth--;
    else if (depth === 0) {
      const op = COMPARISONS.find((o) => expr.startsWith(o, i));
      if (op !== undefined && !(op === "!=" && expr[i + 2] === "~")) {
        if (at !== null) return null;
        at = [i, op];
        i += op.length - 1;
      }
    }
  }
  if (at === null) return null;
  const lhs = expr.slice(0, at[0]).trim();
  const rhs = expr.slice(at[0] + at[1].length).trim();
  // The text outside any brackets or strings.
  const top = (s: string) => {
    let t = s;
    for (let prev = ""; prev !== t; ) {
      prev = t;
      t = t.replace(/\([^()]*\)|\{[^{}]*\}|\[[^\]]*\]|"[^"]*"/g, " ");
    }
    return t;
  };
  if (lhs === "" || rhs === "" || /^(bool|on|ignoring|group_left|group_right)\b/.test(rhs)) return null;
  if (/\b(and|or|unless)\b/.test(top(lhs)) || /\b(and|or|unless)\b/.test(top(rhs))) return null;
  return [lhs, rhs];
}

/**
 * The rule's expression in `/explore`, over a range around `at` (epoch ms): from
 * before it became active to now. A threshold rule (`A > 90`) opens as its two sides,
 * two queries on one graph, so the crossing shows.
 */
export function ExploreLink({ query, at, forSeconds, children }: { query: string; at: number | null; forSeconds: number; children: ComponentChildren }) {
  const lead = Math.max(2 * forSeconds * 1000, 15 * 60_000);
  const from = at === null ? "now-1h" : toUrlTime(at - lead);
  const sides = thresholdSplit(query);
  const base = hrefTo("/explore", { from, to: "now", tab: null, q: null });
  const qs = new URLSearchParams();
  for (const q of sides ?? [query]) qs.append("q", q);
  const href = `${base}${base.includes("?") ? "&" : "?"}${qs.toString()}`;
  return (
    <a href={href} onClick={onLinkClick} class="btn small ghost" data-testid="explore-link" data-split={sides !== null ? "1" : "0"} title={sides !== null ? `Graph ${sides[0]} against ${sides[1]} in Metrics` : `Graph ${query} in Metrics`}>
      {children}
    </a>
  );
}
