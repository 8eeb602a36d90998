// Home (`/`): services with their log counts and the newest log lines of the
// time range, filterable by service (`?service=`) and search terms (`?q=`).
// The RED, USE and alert summaries of issue 16's home land here next.

import { useEffect, useRef, useState } from "preact/hooks";
import { services as fetchServices } from "../../api/jaeger";
import { searchLogs, type LogHit } from "../../api/logs";
import { runSql } from "../../api/sql";
import { Icon } from "../../components/Icon";
import { Link, TraceLink } from "../../components/Link";
import { LogText } from "../../components/LogText";
import { Busy, ErrorState, Loading } from "../../components/States";
import { attrText, formatCount, formatTimestamp, severityClass } from "../../lib/format";
import { useLoad } from "../../lib/load";
import { useTimeRange } from "../../lib/refresh";
import { updateParams, type PageProps } from "../../router";
import "./home.css";

const LOG_LIMIT = 100;
const DEBOUNCE_MS = 300;

async function logCounts(start: number, end: number, signal: AbortSignal): Promise<Map<string, number>> {
  const res = await runSql(
    `SELECT service, count(*) AS n FROM logs WHERE timestamp >= to_timestamp_millis(${Math.floor(start)}) ` +
      `AND timestamp <= to_timestamp_millis(${Math.ceil(end)}) GROUP BY service ORDER BY service`,
    signal,
  );
  const names = res.columns.map((c) => c.name);
  const si = Math.max(names.indexOf("service"), 0);
  const ni = names.indexOf("n") >= 0 ? names.indexOf("n") : 1;
  const out = new Map<string, number>();
  for (const row of res.rows) {
    const n = Number(row[ni] ?? 0);
    out.set(String(row[si] ?? ""), Number.isFinite(n) ? n : 0);
  }
  return out;
}

function ServicesPanel({ selected, start, end, tick }: { selected: string | null; start: number; end: number; tick: number }) {
  const spanServices = useLoad((s) => fetchServices(s), [tick], { label: "Could not load services", banner: true });
  const counts = useLoad((s) => logCounts(start, end, s), [start, end, tick], { label: "Could not load log counts", banner: true });
  const names = new Set<string>([...(spanServices.data ?? []), ...(counts.data?.keys() ?? [])]);
  if (selected !== null) names.add(selected);
  const traced = new Set(spanServices.data ?? []);
  const sorted = [...names].sort((a, b) => a.localeCompare(b));
  const max = Math.max(1, ...(counts.data?.values() ?? []));
  const loaded = spanServices.data !== undefined || counts.data !== undefined;

  return (
    <section class="panel services-panel" aria-labelledby="services-heading">
      <div class="panel-header">
        <h2 id="services-heading">Services</h2>
        <span class="spacer" />
        <button
          id="services-all"
          data-testid="services-all"
          type="button"
          class="link-button small"
          disabled={selected === null}
          aria-pressed={selected === null}
          onClick={() => updateParams({ service: null })}
        >
          All services
        </button>
      </div>
      <Busy on={spanServices.loading || counts.loading} />
      <div class="services-columns muted">
        <span>Name</span>
        <span>Log lines</span>
      </div>
      <ul id="services-list" data-testid="services-list" class="services-list">
        {sorted.map((name) => {
          const n = counts.data?.get(name) ?? 0;
          const on = name === selected;
          return (
            <li key={name} data-service={name}>
              <button
                type="button"
                class={`service-item${on ? " selected" : ""}`}
                data-service={name}
                data-testid="service-item"
                aria-pressed={on}
                title={`${counts.data ? `${formatCount(n)} log lines in range` : "log count unknown"}${traced.has(name) ? " · seen in traces" : ""}`}
                onClick={() => updateParams({ service: on ? null : name }, { replace: true })}
              >
                <span class={`service-dot${traced.has(name) ? " traced" : ""}`} aria-hidden="true" />
                <span class="service-name">{name === "" ? "(unknown)" : name}</span>
                <span class="service-bar" aria-hidden="true">
                  <span style={{ width: `${(n / max) * 100}%` }} />
                </span>
                <span class={`service-count${n === 0 ? " zero" : ""}`}>{counts.data ? formatCount(n) : "–"}</span>
              </button>
            </li>
          );
        })}
      </ul>
      {!loaded && spanServices.error === null && counts.error === null && <Loading what="services" />}
      {loaded && sorted.length === 0 && (
        <p id="services-empty" data-testid="services-empty" class="state">
          No services seen in this range.
        </p>
      )}
      <p class="services-legend faint small">
        <span class="service-dot traced" aria-hidden="true" /> seen in traces
      </p>
    </section>
  );
}

function Details({ log }: { log: LogHit }) {
  const attrs = Object.entries(log.attributes).sort(([a], [b]) => a.localeCompare(b));
  return (
    <dl class="kv">
      <dt>timestamp</dt>
      <dd class="mono">{log.timestamp}</dd>
      {log.trace_id !== "" && (
        <>
          <dt>trace_id</dt>
          <dd>
            <TraceLink id={log.trace_id} />
          </dd>
        </>
      )}
      {log.span_id !== "" && (
        <>
          <dt>span_id</dt>
          <dd class="mono">{log.span_id}</dd>
        </>
      )}
      {attrs.map(([k, v]) => (
        <>
          <dt key={`k${k}`}>{k}</dt>
          <dd key={`v${k}`} class="mono">
            {attrText(v)}
          </dd>
        </>
      ))}
      {attrs.length === 0 && (
        <>
          <dt>attributes</dt>
          <dd class="faint">(none)</dd>
        </>
      )}
    </dl>
  );
}

function logKey(l: LogHit, i: number): string {
  return `${l.timestamp}|${l.service}|${l.span_id}|${i}`;
}

function LogsPanel({ service, q, start, end, tick }: { service: string | null; q: string; start: number; end: number; tick: number }) {
  const [input, setInput] = useState(q);
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => setInput(q), [q]);
  useEffect(() => setExpanded(new Set()), [q, service]);

  const logs = useLoad((s) => searchLogs({ query: q, service, start, end, limit: LOG_LIMIT }, s), [q, service, start, end, tick], {
    label: "Could not load logs",
    resetOn: `${service ?? ""}\u0000${q}`,
  });

  const commit = (v: string) => {
    window.clearTimeout(timer.current);
    updateParams({ q: v.trim() }, { replace: true });
  };

  const hits = logs.data?.hits ?? [];
  const filters = [service !== null ? `service = ${service}` : null, q !== "" ? `terms: ${q}` : null].filter(Boolean);

  return (
    <section class="panel logs-panel" aria-labelledby="logs-heading">
      <div class="panel-header">
        <h2 id="logs-heading">Recent logs</h2>
        {filters.length > 0 && (
          <span id="active-filter" data-testid="active-filter" class="filter-chip">
            {filters.join(" · ")}
          </span>
        )}
        <span class="spacer" />
        <span id="logs-status" data-testid="logs-status" class="muted small">
          {logs.data
            ? logs.data.matched > hits.length
              ? `newest ${formatCount(hits.length)} of ${formatCount(logs.data.matched)} matches`
              : `${formatCount(hits.length)} ${hits.length === 1 ? "match" : "matches"}`
            : ""}
        </span>
        <Link to="/logs" params={{ q: q || null, service }} class="small" data-testid="open-in-logs">
          Open in Logs →
        </Link>
      </div>
      <form
        id="search-form"
        data-testid="search-form"
        class="home-search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          commit(input);
        }}
      >
        <Icon name="search" />
        <input
          id="search-input"
          data-testid="search-input"
          data-query-bar
          class="input mono"
          type="search"
          name="query"
          placeholder='Search: timeout, "card declined", severity>=warn, http.route:/cart …  ( / )'
          autocomplete="off"
          spellcheck={false}
          value={input}
          onInput={(e) => {
            const v = e.currentTarget.value;
            setInput(v);
            window.clearTimeout(timer.current);
            timer.current = window.setTimeout(() => commit(v), DEBOUNCE_MS);
          }}
        />
        <button id="search-button" data-testid="search-button" type="submit" class="btn primary">
          Search
        </button>
      </form>
      <Busy on={logs.loading} />
      {logs.error !== null && <ErrorState title="Could not load logs" message={logs.error} />}
      <div class="table-wrap">
        <table id="logs-table" data-testid="logs-table" class="table logs-table">
          <thead>
            <tr>
              <th class="col-time" scope="col">
                Time (UTC)
              </th>
              <th class="col-severity" scope="col">
                Level
              </th>
              <th class="col-service" scope="col">
                Service
              </th>
              <th class="col-body" scope="col">
                Message
              </th>
              <th class="col-trace" scope="col">
                Trace
              </th>
            </tr>
          </thead>
          <tbody>
            {hits.length === 0 && (
              <tr data-testid="logs-empty">
                <td colSpan={5} class="empty">
                  {logs.data ? "No log lines match in this time range." : logs.error ? "—" : "Loading…"}
                </td>
              </tr>
            )}
            {hits.map((log, i) => {
              const key = logKey(log, i);
              const sev = severityClass(log.severity);
              const open = expanded.has(key);
              const toggle = () => {
                if ((window.getSelection()?.toString() ?? "") !== "") return;
                const next = new Set(expanded);
                if (open) next.delete(key);
                else next.add(key);
                setExpanded(next);
              };
              return [
                <tr key={key} class={`log-row sev-row-${sev}${open ? " open" : ""}`} data-testid="log-row" data-severity={sev} aria-expanded={open} onClick={toggle}>
                  <td class="col-time mono" title={log.timestamp}>
                    {formatTimestamp(log.timestamp)}
                  </td>
                  <td class="col-severity">
                    <span class={`sev sev-${sev}`}>{log.severity || "—"}</span>
                  </td>
                  <td class="col-service">
                    <button
                      type="button"
                      class="link-button"
                      data-service={log.service}
                      title={`Show only ${log.service}`}
                      onClick={(e) => {
                        e.stopPropagation();
                        if (service !== log.service) updateParams({ service: log.service }, { replace: true });
                      }}
                    >
                      {log.service === "" ? "(unknown)" : log.service}
                    </button>
                  </td>
                  <td class="col-body mono">
                    <LogText text={log.body} />
                  </td>
                  <td class="col-trace">
                    {log.trace_id === "" ? <span class="faint">—</span> : <TraceLink id={log.trace_id}>{log.trace_id.slice(0, 8)}</TraceLink>}
                  </td>
                </tr>,
                open && (
                  <tr key={`${key}-d`} class="details-row" data-testid="log-details">
                    <td colSpan={5}>
                      <Details log={log} />
                    </td>
                  </tr>
                ),
              ];
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export default function Home({ loc }: PageProps) {
  const range = useTimeRange();
  const service = loc.params.get("service") || null;
  const q = loc.params.get("q") ?? "";
  if (range.resolved === null) return <ErrorState title="Invalid time range" message={range.error ?? ""} />;
  const { start, end } = range.resolved;
  return (
    <div class="page home">
      <ServicesPanel selected={service} start={start} end={end} tick={range.tick} />
      <LogsPanel service={service} q={q} start={start} end={end} tick={range.tick} />
    </div>
  );
}
