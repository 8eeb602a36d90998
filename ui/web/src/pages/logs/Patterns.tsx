// The patterns tab: the matching lines clustered into templates per service
// (`/api/v1/logs/patterns`, Drain), most frequent first, each with its count,
// share, a sparkline of its lines over the range and include / exclude buttons
// that add the template to the query (see patternQuery.ts for what that means).

import { useState } from "preact/hooks";
import { patternList, type LogLanguage, type LogPattern, type Patterns as PatternData } from "../../api/logs";
import type { RangeSeries } from "../../api/prometheus";
import { Icon } from "../../components/Icon";
import { LogText } from "../../components/LogText";
import { Busy, Empty, ErrorState } from "../../components/States";
import { formatCount, formatTimestamp } from "../../lib/format";
import { useLoad } from "../../lib/load";
import { Sparkline } from "../services/Sparkline";
import { groupState, patternQuery, patternStages } from "./patternQuery";

/** Templates asked for (the server clusters every match; this only cuts the list). */
export const PATTERN_LIMIT = 200;

export interface PatternsProps {
  q: string;
  language: LogLanguage;
  service: string | null;
  range: { start: number; end: number };
  tick: number;
  enabled: boolean;
  /** Adds the template's group (LogQL: the template) to the query (`negate`: exclude it). */
  onFilter: (group: string, negate: boolean) => void;
}

function series(data: PatternData, p: LogPattern): RangeSeries {
  return { metric: {}, values: p.counts.map((c, i) => [(data.startMs + i * data.stepMs) / 1000, c]) };
}

/** The template with its wildcards set apart (all text, never HTML). */
function Template({ pattern }: { pattern: string }) {
  const parts = pattern.split("<*>");
  return (
    <>
      {parts.map((part, i) => (
        <span key={i}>
          {part}
          {i < parts.length - 1 && <span class="pat-wild">&lt;*&gt;</span>}
        </span>
      ))}
    </>
  );
}

/** What including or excluding a template adds: a search group, or in LogQL a pattern filter. */
function patternFilter(language: LogLanguage, p: LogPattern, q: string) {
  if (language === "logql") {
    const [inc, exc] = patternStages(p.pattern, false);
    const state = q.includes(inc) ? "in" : q.includes(exc) ? "out" : null;
    return { group: p.pattern, state, include: inc, exclude: exc } as const;
  }
  const group = patternQuery(p);
  const state = group === null ? null : groupState(q, group);
  return { group, state, include: group, exclude: `-${group}` } as const;
}

function PatternRow({ data, p, q, language, max, onFilter }: { data: PatternData; p: LogPattern; q: string; language: LogLanguage; max: number; onFilter: PatternsProps["onFilter"] }) {
  const [open, setOpen] = useState(false);
  const { group, state, include, exclude } = patternFilter(language, p, q);
  const share = data.matched > 0 ? (p.count / data.matched) * 100 : 0;
  const span = { start: data.startMs, end: data.startMs + Math.max(p.counts.length, 1) * data.stepMs };
  return (
    <li class={`pattern${state !== null ? ` ${state}` : ""}${open ? " open" : ""}`} data-testid="pattern-row" data-service={p.service} data-pattern={p.pattern} data-count={p.count}>
      <div class="pattern-line" onClick={() => setOpen(!open)}>
        <span class="pattern-count" title={`${formatCount(p.count)} lines, ${share.toFixed(1)}% of the matches`}>
          <span class="pattern-bar" style={{ width: `${max > 0 ? (p.count / max) * 100 : 0}%` }} aria-hidden="true" />
          <span class="pattern-count-n" data-testid="pattern-count">
            {formatCount(p.count)}
          </span>
          <span class="pattern-share muted">{share < 0.1 ? "<0.1" : share.toFixed(1)}%</span>
        </span>
        <Sparkline series={series(data, p)} range={span} color="var(--accent)" width={110} height={22} />
        <span class="pattern-service" title={p.service}>
          {p.service === "" ? "(unknown)" : p.service}
        </span>
        {/* The line toggles on a click anywhere; its template is the keyboard's way in. */}
        <button type="button" class="pattern-text mono plain-button" title={p.pattern} aria-expanded={open}>
          <Template pattern={p.pattern} />
        </button>
        <span class="pattern-actions" onClick={(e) => e.stopPropagation()}>
          <button
            type="button"
            class={`icon-button${state === "in" ? " on" : ""}`}
            data-testid="pattern-include"
            disabled={group === null}
            aria-pressed={state === "in"}
            title={group === null ? "This template has no words to search for" : state === "in" ? "Stop showing only this pattern" : `Only lines of this pattern: ${include}`}
            aria-label="Include pattern"
            onClick={() => group !== null && onFilter(group, false)}
          >
            <Icon name="plus" size={12} />
          </button>
          <button
            type="button"
            class={`icon-button${state === "out" ? " on" : ""}`}
            data-testid="pattern-exclude"
            disabled={group === null}
            aria-pressed={state === "out"}
            title={group === null ? "This template has no words to search for" : state === "out" ? "Show this pattern again" : `Hide lines of this pattern: ${exclude}`}
            aria-label="Exclude pattern"
            onClick={() => group !== null && onFilter(group, true)}
          >
            <Icon name="minus" size={12} />
          </button>
        </span>
      </div>
      {open && (
        <div class="pattern-details">
          <div class="pattern-meta muted small">
            First {formatTimestamp(p.firstSeen)} · last {formatTimestamp(p.lastSeen)} UTC
            {group !== null && (
              <>
                {" "}
                · query <code class="mono">{include}</code>
              </>
            )}
          </div>
          <pre class="log-full mono">
            <LogText text={p.example} clamp={4000} />
          </pre>
        </div>
      )}
    </li>
  );
}

export function PatternsView({ q, language, service, range, tick, enabled, onFilter }: PatternsProps) {
  const [filter, setFilter] = useState("");
  const res = useLoad((s) => patternList({ query: q, language, service, start: range.start, end: range.end, limit: PATTERN_LIMIT }, s), [q, language, service, range.start, range.end, tick], {
    label: "Could not load patterns",
    enabled,
    resetOn: `${q}\u0000${service ?? ""}`,
  });
  const data = res.data;
  const needle = filter.trim().toLowerCase();
  const shown = data === undefined ? [] : data.patterns.filter((p) => needle === "" || p.pattern.toLowerCase().includes(needle) || p.service.toLowerCase().includes(needle));
  const max = data?.patterns.reduce((m, p) => Math.max(m, p.count), 0) ?? 0;
  return (
    <div class="patterns" data-testid="patterns">
      <Busy on={res.loading} />
      <div class="patterns-bar">
        <span class="muted small" data-testid="patterns-status">
          {data === undefined
            ? res.loading
              ? "Clustering lines…"
              : ""
            : `${formatCount(data.patterns.length)}${data.patterns.length >= PATTERN_LIMIT ? " most frequent" : ""} ${data.patterns.length === 1 ? "pattern" : "patterns"} in ${formatCount(data.matched)} lines`}
        </span>
        <span class="spacer" />
        <input class="input small patterns-filter" type="search" placeholder="Filter patterns" aria-label="Filter patterns" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
      </div>
      {res.error !== null && <ErrorState title="Could not cluster the lines" message={res.error} compact />}
      {data !== undefined && data.patterns.length === 0 && res.error === null ? (
        <Empty>No lines to cluster{q !== "" ? <> for <code>{q}</code></> : null} in this time range.</Empty>
      ) : (
        <>
          <div class="pattern-head caps" aria-hidden="true">
            <span>Count</span>
            <span>Over the range</span>
            <span>Service</span>
            <span>Pattern</span>
            <span />
          </div>
          <ul class="pattern-list">
            {data !== undefined && shown.map((p) => <PatternRow key={`${p.service}\u0000${p.pattern}`} data={data} p={p} q={q} language={language} max={max} onFilter={onFilter} />)}
          </ul>
          {data !== undefined && shown.length === 0 && needle !== "" && <Empty>No pattern contains “{filter}”.</Empty>}
        </>
      )}
    </div>
  );
}
