// `/logs`: search in Osprey's language (`?q=`), a service filter
// (`?service=`), the volume by severity (drag to zoom), facets, and a
// virtualised list of matches, newest first, loading older pages on scroll.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { describeError, isAbort } from "../../api/http";
import { services as spanServices } from "../../api/jaeger";
import { addTerm, facetKey, fieldTerm, logFields, logHistogram, searchLogs, type Fields, type LogHit } from "../../api/logs";
import { Icon } from "../../components/Icon";
import { Busy, Empty, ErrorState } from "../../components/States";
import { formatCount } from "../../lib/format";
import { useLoad } from "../../lib/load";
import { useTimeRange } from "../../lib/refresh";
import { updateParams, type PageProps } from "../../router";
import { Facets } from "./Facets";
import { VolumeHistogram } from "./Histogram";
import { LogList } from "./LogList";
import { QueryInput } from "./QueryInput";
import "./logs.css";

const PAGE = 500;
/** Most lines kept in the list (older ones: narrow the range). */
const MAX_LINES = 100_000;
const WRAP_KEY = "osprey.logs.wrap";

interface Pages {
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
function useSearch(q: string, service: string | null, start: number, end: number, tick: number) {
  const [st, setSt] = useState<Pages>(EMPTY);
  const key = `${q}\u0000${service ?? ""}\u0000${start}\u0000${end}\u0000${tick}`;
  const ctl = useRef<AbortController | null>(null);
  const stRef = useRef(st);
  stRef.current = st;

  useEffect(() => {
    ctl.current?.abort();
    const c = new AbortController();
    ctl.current = c;
    setSt((s) => ({ ...s, loading: true, loadingMore: false }));
    searchLogs({ query: q, service, start, end, limit: PAGE }, c.signal).then(
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
    searchLogs({ query: q, service, start, end, limit: PAGE, cursor: s.cursor }, c.signal).then(
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

function readWrap(): boolean {
  try {
    return window.localStorage.getItem(WRAP_KEY) === "1";
  } catch {
    return false;
  }
}

const SYNTAX: [string, string][] = [
  ["timeout", "a word in the body (whole words, any case)"],
  ["time*", "a word starting with time"],
  ['"card declined"', "a phrase"],
  ["severity>=warn", "levels: trace debug info warn error fatal"],
  ["service:checkout", "the service"],
  ["http.route:/cart", "an attribute or resource attribute, exactly"],
  ["trace_id:4bf9…", "a trace's lines"],
  ["a OR b, NOT a, -a, ( )", "combine; juxtaposition is AND"],
];

function QueryBar({ q, service, services, fields, onRun }: { q: string; service: string | null; services: string[]; fields: Fields | undefined; onRun: (q: string) => void }) {
  const [value, setValue] = useState(q);
  const [help, setHelp] = useState(false);
  useEffect(() => setValue(q), [q]);
  return (
    <form
      class="logs-querybar"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        onRun(value);
      }}
    >
      <select
        class="btn select service-select"
        data-testid="service-select"
        aria-label="Service"
        value={service ?? ""}
        onChange={(e) => updateParams({ service: e.currentTarget.value || null })}
      >
        <option value="">All services</option>
        {services.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
      <div class="querybox">
        <Icon name="search" />
        <QueryInput
          value={value}
          onInput={setValue}
          fields={fields}
          services={services}
          placeholder='severity>=warn "card declined" -healthcheck http.route:/cart   ( / to focus, Enter to run )'
        />
        <button type="button" class="btn ghost small" aria-expanded={help} onClick={() => setHelp(!help)} title="Search syntax">
          Syntax
        </button>
        {help && (
          <div class="popover syntax-popover" role="dialog" aria-label="Search syntax">
            <table>
              <tbody>
                {SYNTAX.map(([ex, what]) => (
                  <tr key={ex}>
                    <td>
                      <button
                        type="button"
                        class="link-button mono"
                        onClick={() => {
                          setValue(ex);
                          setHelp(false);
                        }}
                      >
                        {ex}
                      </button>
                    </td>
                    <td class="muted">{what}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
      <button type="submit" class="btn primary" data-testid="run-query">
        <Icon name="play" size={12} />
        Run
      </button>
    </form>
  );
}

export default function Logs({ loc }: PageProps) {
  const range = useTimeRange();
  const q = loc.params.get("q") ?? "";
  const service = loc.params.get("service") || null;
  const [wrap, setWrap] = useState(readWrap);
  const [expanded, setExpanded] = useState<Set<number>>(new Set());
  const res = range.resolved ?? { start: 0, end: 0 };
  const ok = range.resolved !== null;
  const searchKey = `${q}\u0000${service ?? ""}\u0000${res.start}\u0000${res.end}`;

  const search = useSearch(q, service, res.start, res.end, range.tick);
  const hist = useLoad((s) => logHistogram({ query: q, service, start: res.start, end: res.end, by: "severity" }, s), [q, service, res.start, res.end, range.tick], {
    label: "Could not load the log volume",
    enabled: ok,
    resetOn: `${q}\u0000${service ?? ""}`,
  });
  const fields = useLoad((s) => logFields({ query: q, service, start: res.start, end: res.end, limit: 8 }, s), [q, service, res.start, res.end, range.tick], {
    label: "Could not load fields",
    enabled: ok,
    resetOn: `${q}\u0000${service ?? ""}`,
  });
  const svcs = useLoad((s) => spanServices(s), [range.tick], { label: "Could not load services" });

  useEffect(() => setExpanded(new Set()), [searchKey, range.tick]);

  const run = (next: string) => updateParams({ q: next.trim() || null });
  const filter = (key: string, value: string, negate: boolean) => {
    if (key === "service" && !negate) {
      updateParams({ service: value });
      return;
    }
    const term = fieldTerm(key, value);
    if (term !== null) run(addTerm(q, term, negate));
  };

  const serviceNames = new Set<string>(svcs.data ?? []);
  for (const f of fields.data?.fields ?? []) if (f.field === "service") for (const v of f.values) serviceNames.add(v.value);
  if (service !== null) serviceNames.add(service);

  // One query error is reported once (search, volume and facets share it).
  const errors = [...new Set([search.error, hist.error, fields.error].filter((e): e is string => e !== null))];

  return (
    <div class="page logs-page">
      <QueryBar q={q} service={service} services={[...serviceNames].sort()} fields={fields.data} onRun={run} />
      {range.error !== null && <ErrorState title="Invalid time range" message={range.error} />}
      {errors.map((e) => (
        <ErrorState key={e} title="The search failed" message={e} />
      ))}
      <div class="logs-body">
        <aside class="logs-side panel" aria-label="Fields">
          <div class="panel-header">
            <h2>Fields</h2>
            <span class="spacer" />
            <span class="faint small">top values</span>
          </div>
          <Busy on={fields.loading} />
          <div class="logs-side-scroll">
            <Facets
              data={fields.data}
              loading={fields.loading}
              actions={{
                filter: (field, value, negate) => {
                  if (field === "service") {
                    if (negate) filter("service", value, true);
                    else updateParams({ service: service === value ? null : value });
                    return;
                  }
                  filter(field === "severity" ? "severity" : facetKey(field), value, negate);
                },
                active: (field, value) => {
                  if (field === "service") return service === value;
                  const term = fieldTerm(field === "severity" ? "severity" : facetKey(field), value);
                  return term !== null && q.split(/\s+/).includes(term);
                },
              }}
            />
          </div>
        </aside>
        <section class="logs-main">
          <div class="panel volume-panel">
            <Busy on={hist.loading} />
            <VolumeHistogram data={hist.data} range={res} />
          </div>
          <div class="panel results-panel">
            <div class="panel-header results-header">
              <h2>Lines</h2>
              <span class="muted small" data-testid="logs-status">
                {search.loading && search.hits.length === 0
                  ? "Searching…"
                  : search.error !== null
                    ? ""
                    : `${formatCount(search.matched)} ${search.matched === 1 ? "match" : "matches"} · ${formatCount(search.hits.length)} loaded · ${search.elapsedMs} ms`}
              </span>
              <span class="spacer" />
              <label class="check small">
                <input
                  type="checkbox"
                  data-testid="wrap-lines"
                  checked={wrap}
                  onChange={(e) => {
                    const on = e.currentTarget.checked;
                    setWrap(on);
                    try {
                      window.localStorage.setItem(WRAP_KEY, on ? "1" : "0");
                    } catch {
                      // Storage unavailable.
                    }
                  }}
                />
                Wrap lines
              </label>
              {expanded.size > 0 && (
                <button type="button" class="btn small" onClick={() => setExpanded(new Set())}>
                  Collapse all
                </button>
              )}
            </div>
            <Busy on={search.loading || search.loadingMore} />
            <div class="loglist-head" aria-hidden="true">
              <span />
              <span>Time (UTC)</span>
              <span>Level</span>
              <span>Service</span>
              <span>Message</span>
            </div>
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
                resetKey={searchKey}
                onToggle={(i) => {
                  const next = new Set(expanded);
                  if (next.has(i)) next.delete(i);
                  else next.add(i);
                  setExpanded(next);
                }}
                actions={{ filter, service: (name) => updateParams({ service: name }) }}
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
          </div>
        </section>
      </div>
    </div>
  );
}
