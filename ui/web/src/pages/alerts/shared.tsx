// Pieces the alerts page's tabs share: label chips, state badges, relative times
// and the Explore link of a rule's expression.

import type { ComponentChildren } from "preact";
import { Link } from "../../components/Link";
import { formatDuration, formatUtc, toUrlTime } from "../../lib/time";

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

/**
 * The rule's expression in `/explore`, over a range around `at` (epoch ms): from
 * before it became active to now, so the threshold crossing is on the graph.
 */
export function ExploreLink({ query, at, forSeconds, children }: { query: string; at: number | null; forSeconds: number; children: ComponentChildren }) {
  const lead = Math.max(2 * forSeconds * 1000, 15 * 60_000);
  const from = at === null ? "now-1h" : toUrlTime(at - lead);
  return (
    <Link to="/explore" params={{ q: query, from, to: "now", tab: null }} class="btn small ghost" data-testid="explore-link" title={`Graph ${query} in Metrics`}>
      {children}
    </Link>
  );
}
