// `/traces`: Jaeger-style trace search. The form (service, operation, tags as
// `key=value`, min/max duration, errors only, limit) lives in the URL; the
// results come from Osprey's Jaeger API (`/api/traces`, whole traces), drawn as
// duration over time (click a dot to open it) above a sortable list.

import { useEffect, useMemo, useState } from "preact/hooks";
import { operations as fetchOperations, searchTraces, services as fetchServices } from "../../api/jaeger";
import { Icon } from "../../components/Icon";
import { Link } from "../../components/Link";
import { Busy, Empty, ErrorState, Loading } from "../../components/States";
import { formatCount, plural } from "../../lib/format";
import { useLoad } from "../../lib/load";
import { useTimeRange } from "../../lib/refresh";
import { formatUtc } from "../../lib/time";
import { formatMicros, serviceColor, setServiceUniverse, summarize, type TraceInfo } from "../../lib/trace";
import { hrefTo, navigate, serialize, type PageProps } from "../../router";
import { Scatter } from "./Scatter";
import "./traces.css";

/** Go durations as Jaeger's query service reads them (`1.5ms`, `2s`, `1m30s`). */
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const DEFAULT_LIMIT = 20;
const LIMITS = [20, 50, 100, 200, 500, 1500];

/** `http.status_code=500 error=true key="a b"` → pairs; an error message when malformed. */
export function parseTags(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  const re = /\s*([^\s=]+)=("((?:[^"\\]|\\.)*)"|\S*)/y;
  let pos = 0;
  const t = text.trim();
  while (pos < t.length) {
    re.lastIndex = pos;
    const m = re.exec(t);
    if (m === null) return `expected key=value at "${t.slice(pos, pos + 20)}"`;
    const key = m[1] ?? "";
    const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, "$1") : (m[2] ?? "");
    out[key] = value;
    pos = re.lastIndex;
    while (t[pos] === " ") pos++;
  }
  return out;
}

type Sort = "recent" | "longest" | "shortest" | "spans";
const SORTS: [Sort, string][] = [
  ["recent", "Most recent"],
  ["longest", "Longest first"],
  ["shortest", "Shortest first"],
  ["spans", "Most spans"],
];

function sortTraces(list: TraceInfo[], sort: Sort): TraceInfo[] {
  const out = [...list];
  if (sort === "recent") out.sort((a, b) => b.start - a.start);
  else if (sort === "longest") out.sort((a, b) => b.duration - a.duration);
  else if (sort === "shortest") out.sort((a, b) => a.duration - b.duration);
  else out.sort((a, b) => b.spanCount - a.spanCount);
  return out;
}

interface Form {
  service: string;
  operation: string;
  tags: string;
  minDuration: string;
  maxDuration: string;
  errors: boolean;
  limit: string;
}

function readForm(p: URLSearchParams, fallbackService: string): Form {
  return {
    service: p.get("service") || fallbackService,
    operation: p.get("operation") ?? "",
    tags: p.get("tags") ?? "",
    minDuration: p.get("minDuration") ?? "",
    maxDuration: p.get("maxDuration") ?? "",
    errors: p.get("errors") === "1",
    limit: p.get("limit") ?? String(DEFAULT_LIMIT),
  };
}

function SearchForm({ initial, services, onSubmit }: { initial: Form; services: string[]; onSubmit: (f: Form) => void }) {
  const [f, setF] = useState(initial);
  const key = JSON.stringify(initial);
  useEffect(() => setF(initial), [key]);
  const ops = useLoad((s) => fetchOperations(f.service, s), [f.service], { label: "Could not load operations", enabled: f.service !== "" });
  const set = (patch: Partial<Form>) => setF((prev) => ({ ...prev, ...patch }));
  const tagsErr = f.tags.trim() === "" ? null : typeof parseTags(f.tags) === "string" ? (parseTags(f.tags) as string) : null;
  const minErr = f.minDuration !== "" && !GO_DURATION.test(f.minDuration.trim());
  const maxErr = f.maxDuration !== "" && !GO_DURATION.test(f.maxDuration.trim());
  const invalid = tagsErr !== null || minErr || maxErr || f.service === "";
  const opList = [...(ops.data ?? [])].sort();
  return (
    <form
      class="trace-form panel"
      role="search"
      data-testid="trace-search-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!invalid) onSubmit(f);
      }}
    >
      <div class="panel-header">
        <h2>Search</h2>
      </div>
      <div class="trace-form-body">
        <label class="field">
          <span>Service</span>
          <select
            class="btn select"
            data-testid="trace-service"
            value={f.service}
            onChange={(e) => set({ service: e.currentTarget.value, operation: "" })}
          >
            {f.service === "" && <option value="">Choose a service</option>}
            {services.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
            {f.service !== "" && !services.includes(f.service) && <option value={f.service}>{f.service}</option>}
          </select>
        </label>
        <label class="field">
          <span>Operation</span>
          <select class="btn select" data-testid="trace-operation" value={f.operation} onChange={(e) => set({ operation: e.currentTarget.value })}>
            <option value="">All operations</option>
            {opList.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
            {f.operation !== "" && !opList.includes(f.operation) && <option value={f.operation}>{f.operation}</option>}
          </select>
        </label>
        <label class="field">
          <span>Tags</span>
          <input
            class={`input mono${tagsErr !== null ? " invalid" : ""}`}
            data-testid="trace-tags"
            data-query-bar
            placeholder="http.status_code=500 error=true"
            value={f.tags}
            spellcheck={false}
            autocomplete="off"
            onInput={(e) => set({ tags: e.currentTarget.value })}
          />
          {tagsErr !== null ? <small class="field-error">{tagsErr}</small> : <small class="faint">logfmt: key=value, space separated; "quote values" with spaces</small>}
        </label>
        <div class="field-row">
          <label class="field">
            <span>Min duration</span>
            <input
              class={`input mono${minErr ? " invalid" : ""}`}
              data-testid="trace-min-duration"
              placeholder="e.g. 100ms"
              value={f.minDuration}
              size={8}
              onInput={(e) => set({ minDuration: e.currentTarget.value })}
            />
          </label>
          <label class="field">
            <span>Max duration</span>
            <input
              class={`input mono${maxErr ? " invalid" : ""}`}
              data-testid="trace-max-duration"
              placeholder="e.g. 1.2s"
              value={f.maxDuration}
              size={8}
              onInput={(e) => set({ maxDuration: e.currentTarget.value })}
            />
          </label>
        </div>
        {(minErr || maxErr) && <small class="field-error">Durations: a number and a unit: ns us ms s m h (1.5ms, 2s, 1m30s).</small>}
        <div class="field-row">
          <label class="field">
            <span>Limit</span>
            <select class="btn select" data-testid="trace-limit" value={f.limit} onChange={(e) => set({ limit: e.currentTarget.value })}>
              {LIMITS.map((n) => (
                <option key={n} value={String(n)}>
                  {n}
                </option>
              ))}
              {!LIMITS.map(String).includes(f.limit) && <option value={f.limit}>{f.limit}</option>}
            </select>
          </label>
          <label class="check errors-only">
            <input type="checkbox" data-testid="trace-errors-only" checked={f.errors} onChange={(e) => set({ errors: e.currentTarget.checked })} />
            Errors only
          </label>
        </div>
        <button type="submit" class="btn primary find-traces" data-testid="trace-search" disabled={invalid}>
          <Icon name="search" size={14} />
          Find traces
        </button>
        <p class="faint small">Time range: the picker above. A trace matches when one of its spans matches every condition.</p>
      </div>
    </form>
  );
}

function ServiceChips({ services }: { services: { name: string; count: number }[] }) {
  const shown = services.slice(0, 8);
  return (
    <span class="svc-chips">
      {shown.map((s) => (
        <span key={s.name} class="svc-chip" data-service={s.name} title={`${s.name}: ${plural(s.count, "span")}`}>
          <span class="swatch" style={{ background: serviceColor(s.name) }} />
          {s.name || "(unknown)"}
          <span class="svc-count">{s.count}</span>
        </span>
      ))}
      {services.length > shown.length && <span class="faint small">+{services.length - shown.length} more</span>}
    </span>
  );
}

function ago(us: number): string {
  const s = Math.max(0, (Date.now() - us / 1000) / 1000);
  if (s < 60) return `${Math.round(s)}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86_400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}

function ResultRow({ t, maxDuration }: { t: TraceInfo; maxDuration: number }) {
  const pct = maxDuration > 0 ? Math.max(0.5, (t.duration / maxDuration) * 100) : 0;
  return (
    <li>
      <Link to={`/trace/${encodeURIComponent(t.traceID)}`} class={`trace-result${t.errors > 0 ? " has-error" : ""}`} data-testid="trace-result" data-trace-id={t.traceID}>
        <div class="tr-line1">
          <span class="tr-name one-line" data-testid="trace-name">
            <span class="swatch" style={{ background: serviceColor(t.rootService) }} />
            <strong>{t.rootService || "(unknown)"}:</strong> <span>{t.rootOperation}</span>
            {t.partial && <span class="badge muted" title="The root span is not in the store">no root</span>}
          </span>
          <span class="mono faint tr-id">{t.traceID.slice(0, 12)}</span>
          <span class="spacer" />
          {t.errors > 0 && (
            <span class="badge error" data-testid="trace-errors">
              <Icon name="alert" size={12} />
              {plural(t.errors, "error")}
            </span>
          )}
          <span class="tr-duration mono" data-testid="trace-duration">
            {formatMicros(t.duration)}
          </span>
        </div>
        <div class="tr-bar" aria-hidden="true">
          <span style={{ width: `${pct}%` }} />
        </div>
        <div class="tr-line2">
          <span class="tr-spans" data-testid="trace-span-count">
            {plural(t.spanCount, "span")}
          </span>
          <ServiceChips services={t.services} />
          <span class="spacer" />
          <span class="mono muted small" title={`${formatUtc(t.start / 1000, true)} UTC`}>
            {formatUtc(t.start / 1000, true)}
          </span>
          <span class="faint small tr-ago">{ago(t.start)}</span>
        </div>
      </Link>
    </li>
  );
}

export default function Traces({ loc }: PageProps) {
  const range = useTimeRange();
  const res = range.resolved ?? { start: 0, end: 0 };
  const svcs = useLoad((s) => fetchServices(s), [range.tick], { label: "Could not load services" });
  const services = useMemo(() => [...(svcs.data ?? [])].sort(), [svcs.data]);
  setServiceUniverse(services);
  const form = readForm(loc.params, services[0] ?? "");
  const sort = (SORTS.find(([k]) => k === loc.params.get("sort"))?.[0] ?? "recent") as Sort;
  const tagParse = form.tags.trim() === "" ? {} : parseTags(form.tags);
  const tags: Record<string, string> = typeof tagParse === "string" ? {} : { ...tagParse };
  if (form.errors) tags.error = "true";
  const limit = Number(form.limit) > 0 ? Number(form.limit) : DEFAULT_LIMIT;
  const searchKey = JSON.stringify([form.service, form.operation, tags, form.minDuration, form.maxDuration, limit]);

  const found = useLoad(
    (s) =>
      searchTraces(
        {
          service: form.service,
          operation: form.operation || undefined,
          tags,
          minDuration: form.minDuration || undefined,
          maxDuration: form.maxDuration || undefined,
          start: res.start,
          end: res.end,
          limit,
        },
        s,
      ).then((list) => list.map(summarize)),
    [searchKey, res.start, res.end, range.tick],
    { label: "Could not search traces", enabled: form.service !== "" && range.resolved !== null, resetOn: searchKey },
  );

  const submit = (f: Form) => {
    const p = new URLSearchParams(window.location.search);
    const set = (k: string, v: string) => (v.trim() === "" ? p.delete(k) : p.set(k, v.trim()));
    set("service", f.service);
    set("operation", f.operation);
    set("tags", f.tags);
    set("minDuration", f.minDuration);
    set("maxDuration", f.maxDuration);
    set("errors", f.errors ? "1" : "");
    set("limit", f.limit === String(DEFAULT_LIMIT) ? "" : f.limit);
    const qs = serialize(p);
    navigate(`/traces${qs === "" ? "" : `?${qs}`}`);
  };

  const list = useMemo(() => sortTraces(found.data ?? [], sort), [found.data, sort]);
  const maxDuration = list.reduce((m, t) => Math.max(m, t.duration), 0);
  const withErrors = list.filter((t) => t.errors > 0).length;

  return (
    <div class="page traces-page" data-testid="traces-page">
      <h1 class="sr-only">Traces</h1>
      <SearchForm initial={form} services={services} onSubmit={submit} />
      <section class="traces-main">
        {range.error !== null && <ErrorState title="Invalid time range" message={range.error} />}
        {svcs.error !== null && <ErrorState title="Could not load services" message={svcs.error} />}
        {found.error !== null && <ErrorState title="The trace search failed" message={found.error} />}
        <div class="panel scatter-panel">
          <Busy on={found.loading} />
          <div class="panel-header">
            <h2>Duration over time</h2>
            <span class="legend-dot" style={{ background: "var(--accent)" }} />
            <span class="muted small">traces</span>
            <span class="legend-dot" style={{ background: "var(--danger)" }} />
            <span class="muted small">with errors</span>
            <span class="spacer" />
            <span class="faint small">click a dot to open the trace</span>
          </div>
          <Scatter traces={list} range={res} height={170} onOpen={(id) => navigate(hrefTo(`/trace/${encodeURIComponent(id)}`))} />
        </div>
        <div class="panel results-panel">
          <div class="panel-header">
            <h2>Traces</h2>
            <span class="muted small" data-testid="traces-status">
              {found.loading && found.data === undefined
                ? "Searching…"
                : found.data !== undefined
                  ? `${plural(list.length, "trace")}${withErrors > 0 ? ` · ${formatCount(withErrors)} with errors` : ""}${list.length >= limit ? ` · limit ${limit} reached` : ""}`
                  : ""}
            </span>
            <span class="spacer" />
            <label class="small muted sort-label">
              Sort
              <select
                class="btn select small"
                data-testid="trace-sort"
                value={sort}
                onChange={(e) => {
                  const p = new URLSearchParams(window.location.search);
                  if (e.currentTarget.value === "recent") p.delete("sort");
                  else p.set("sort", e.currentTarget.value);
                  const qs = serialize(p);
                  navigate(`/traces${qs === "" ? "" : `?${qs}`}`, { replace: true });
                }}
              >
                {SORTS.map(([k, label]) => (
                  <option key={k} value={k}>
                    {label}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <div class="results-scroll">
            {form.service === "" ? (
              svcs.loading ? (
                <Loading what="services" />
              ) : (
                <Empty>No services have sent spans yet. Send OTLP traces to Osprey (or run osprey demo) and they show up here.</Empty>
              )
            ) : found.data === undefined && found.loading ? (
              <Loading what="traces" />
            ) : found.data !== undefined && list.length === 0 ? (
              <Empty>
                No traces of <strong>{form.service}</strong>
                {form.operation !== "" ? <> · {form.operation}</> : null} match in this time range. Widen the range or loosen the conditions.
              </Empty>
            ) : (
              <ul class="trace-results" data-testid="trace-results">
                {list.map((t) => (
                  <ResultRow key={t.traceID} t={t} maxDuration={maxDuration} />
                ))}
              </ul>
            )}
          </div>
        </div>
      </section>
    </div>
  );
}
