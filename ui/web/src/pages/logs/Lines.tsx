// The Lines tab: the matches newest first, a page at a time (older pages load
// as the end of the list comes into view), in the virtualised list.

import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { describeError, isAbort } from "../../api/http";
import { searchLogs, type LogHit, type LogLanguage } from "../../api/logs";
import { Busy, Empty } from "../../components/States";
import { formatCount } from "../../lib/format";
import { toggled } from "../../lib/sets";
import { ListHead, LogList, type ListActions } from "./LogList";

const PAGE = 500;
/** Most lines kept in the list (older ones: narrow the range). */
const MAX_LINES = 100_000;

export interface Pages {
  hits: LogHit[];
  matched: number;
  cursor: string | null;
  elapsedMs: number;
  loading: boolean;
  loadingMore: boolean;
  error: string | null;
}

const EMPTY: Pages = { hits: [], matched: 0, cursor: null, elapsedMs: 0, loading: true, loadingMore: false, error: null };

/** Newest-first pages of a search; `more()` appends the next (older) page. */
export function useSearch(q: string, language: LogLanguage, service: string | null, start: number, end: number, tick: number, enabled: boolean) {
  const [st, setSt] = useState<Pages>(EMPTY);
  const key = `${q}\u0000${language}\u0000${service ?? ""}\u0000${start}\u0000${end}\u0000${tick}\u0000${enabled}`;
  const ctl = useRef<AbortController | null>(null);
  const stRef = useRef(st);
  stRef.current = st;

  useEffect(() => {
    ctl.current?.abort();
    if (!enabled) {
      ctl.current = null;
      setSt((s) => ({ ...s, loading: false, loadingMore: false }));
      return;
    }
    const c = new AbortController();
    ctl.current = c;
    setSt((s) => ({ ...s, loading: true, loadingMore: false }));
    searchLogs({ query: q, language, service, start, end, limit: PAGE }, c.signal).then(
      (p) => {
        if (c.signal.aborted) return;
        setSt({ hits: p.hits, matched: p.matched, cursor: p.cursor, elapsedMs: p.elapsedMs, loading: false, loadingMore: false, error: null });
      },
      (e: unknown) => {
        if (isAbort(e) || c.signal.aborted) return;
        setSt({ ...EMPTY, loading: false, error: describeError(e) });
      },
    );
    return () => c.abort();
  }, [key]);

  const more = useCallback(() => {
    const s = stRef.current;
    if (s.loading || s.loadingMore || s.cursor === null || s.hits.length >= MAX_LINES || s.error !== null) return;
    const c = ctl.current;
    if (c === null) return;
    setSt({ ...s, loadingMore: true });
    searchLogs({ query: q, language, service, start, end, limit: PAGE, cursor: s.cursor }, c.signal).then(
      (p) => {
        if (c.signal.aborted) return;
        setSt((prev) => ({ ...prev, hits: [...prev.hits, ...p.hits], cursor: p.cursor, loadingMore: false }));
      },
      (e: unknown) => {
        if (isAbort(e) || c.signal.aborted) return;
        setSt((prev) => ({ ...prev, loadingMore: false, error: describeError(e) }));
      },
    );
  }, [key]);

  return { ...st, more };
}

export interface LinesProps {
  search: Pages & { more: () => void };
  q: string;
  service: string | null;
  /** Changes with a new search (query, service or range). */
  resetKey: string;
  /** The refresh tick: closes the expanded records. */
  tick: number;
  wrap: boolean;
  actions: ListActions;
  header: (status: ComponentChildren, controls: ComponentChildren) => ComponentChildren;
}

export function LinesView({ search, q, service, resetKey, tick, wrap, actions, header }: LinesProps) {
  const [expanded, setExpanded] = useState<Set<number>>(new Set());
  useEffect(() => setExpanded(new Set()), [resetKey, tick]);
    const status = (
      <span class="muted small" data-testid="logs-status">
        {search.loading && search.hits.length === 0
          ? "Searching…"
          : search.error !== null
            ? ""
            : `${formatCount(search.matched)} ${search.matched === 1 ? "match" : "matches"} · ${formatCount(search.hits.length)} loaded · ${search.elapsedMs} ms`}
      </span>
    );
    const collapse = expanded.size > 0 && (
      <button type="button" class="btn small" onClick={() => setExpanded(new Set())}>
        Collapse all
      </button>
    );
  return (
      <>
        {header(status, collapse)}
        <Busy on={search.loading || search.loadingMore} />
        <ListHead />
        {!search.loading && search.error === null && search.hits.length === 0 ? (
          <Empty>
            No log lines match{q !== "" ? <> <code>{q}</code></> : null}
            {service !== null ? <> in {service}</> : null} in this time range.
          </Empty>
        ) : (
          <LogList
            hits={search.hits}
            wrap={wrap}
            expanded={expanded}
            resetKey={resetKey}
            onToggle={(i) => setExpanded(toggled(expanded, i))}
            actions={actions}
            onEnd={search.more}
            footer={
              search.hits.length > 0 && (
                <div class="loglist-foot muted small">
                  {search.loadingMore
                    ? "Loading older lines…"
                    : search.cursor === null
                      ? `All ${formatCount(search.hits.length)} matching lines loaded.`
                      : search.hits.length >= MAX_LINES
                        ? `Showing the newest ${formatCount(MAX_LINES)} lines; narrow the range to see older ones.`
                        : ""}
                </div>
              )
            }
          />
        )}
      </>
  );
}
