// The home page's panels: services with RED and their trend, firing alerts,
// the newest error logs. Each gets its data from the page (which also
// summarises it in the tiles) and links to its full view.

import type { ComponentChildren } from "preact";
import type { Alert, RuleSummary } from "../../api/alerts";
import type { LogHit, SearchPage } from "../../api/logs";
import type { RangeSeries } from "../../api/prometheus";
import { Icon } from "../../components/Icon";
import { Link, TraceLink } from "../../components/Link";
import { LogText } from "../../components/LogText";
import { Busy, ErrorState, Loading } from "../../components/States";
import type { Load } from "../../lib/load";
import { formatCount, formatTimestamp, parseTimestamp, severityClass } from "../../lib/format";
import { formatDuration } from "../../lib/time";
import { serviceColor } from "../../lib/trace";
import { formatMs, formatPct, formatRate, type RedRow } from "../services/red";
import { Sparkline } from "../services/Sparkline";

export function Panel({ title, testId, to, params, toLabel, loading, extra, children }: { title: string; testId: string; to: string; params?: Record<string, string | null>; toLabel: string; loading: boolean; extra?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="panel home-panel" data-testid={testId} aria-label={title}>
      <Busy on={loading} />
      <div class="panel-header">
        <h2>{title}</h2>
        {extra}
        <span class="spacer" />
        <Link to={to} params={params} class="small panel-link" data-testid="panel-link">
          {toLabel} →
        </Link>
      </div>
      {children}
    </section>
  );
}

/** A panel's content from a load: its error, "Loading…" until the first answer, then `empty` or `children`. */
function PanelBody<T>({ load, what, isEmpty, empty, children }: { load: Load<T>; what: string; isEmpty: boolean; empty: ComponentChildren; children: ComponentChildren }) {
  return (
    <>
      {load.error !== null && <ErrorState compact message={load.error} />}
      {load.data === undefined ? load.loading && <Loading what={what} /> : isEmpty ? empty : children}
    </>
  );
}

/** How many services the panel lists (the busiest). */
const TOP_SERVICES = 12;

export function ServicesPanel({ red, spark, range }: { red: Load<RedRow[]>; spark: Map<string, RangeSeries> | undefined; range: { start: number; end: number } }) {
  const all = (red.data ?? []).filter((r) => (r.labels.service_name ?? "") !== "");
  const rows = [...all].sort((a, b) => b.rate - a.rate || (a.labels.service_name ?? "").localeCompare(b.labels.service_name ?? "")).slice(0, TOP_SERVICES);
  const maxRate = rows.reduce((m, r) => Math.max(m, r.rate), 0);
  return (
    <Panel
      title="Services"
      testId="home-services"
      to="/services"
      toLabel={all.length > rows.length ? `All ${all.length} services` : "Services"}
      loading={red.loading}
      extra={<span class="faint small">RED of server spans</span>}
    >
      <PanelBody load={red} what="services" isEmpty={rows.length === 0} empty={<p class="home-empty faint">No span metrics in this range: send OTLP traces (or run osprey demo) and they appear here.</p>}>
        <table class="table home-table">
          <thead>
            <tr>
              <th>Service</th>
              <th class="num" title="Calls per second">
                Rate
              </th>
              <th class="num" title="Share of calls with status ERROR">
                Errors
              </th>
              <th class="num" title="95th percentile latency">
                p95
              </th>
              <th class="spark-col" title="Calls per second over the range">
                Trend
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const name = r.labels.service_name ?? "";
              return (
                <tr key={r.key} data-testid="home-service-row" data-name={name}>
                  <td class="home-name">
                    <Link to={`/services/${encodeURIComponent(name)}`} class="svc-link">
                      <span class="swatch" style={{ background: serviceColor(name) }} />
                      {name}
                    </Link>
                  </td>
                  <td class="num mono bar-cell" data-col="rate" data-value={r.rate}>
                    <span class="bar-cell-bar" style={{ width: `${maxRate > 0 ? (r.rate / maxRate) * 100 : 0}%` }} />
                    <span class="bar-cell-value">{formatRate(r.rate)}</span>
                  </td>
                  <td class={`num mono${r.errorPct >= 5 ? " err-high" : r.errors > 0 ? " err-some" : ""}`} data-col="errorPct" data-value={r.errorPct}>
                    {formatPct(r.errorPct)}
                  </td>
                  <td class="num mono" data-col="p95" data-value={r.p95}>
                    {formatMs(r.p95)}
                  </td>
                  <td class="spark-col">
                    <Sparkline series={spark?.get(name)} range={range} color={serviceColor(name)} width={110} height={20} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </PanelBody>
    </Panel>
  );
}

function since(activeAt: string, now: number): string {
  const t = parseTimestamp(activeAt);
  return Number.isNaN(t) ? "" : formatDuration(Math.max(0, now - t));
}

function alertLabels(a: Alert): string {
  return Object.entries(a.labels)
    .filter(([k]) => k !== "alertname" && k !== "severity")
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
}

function AlertRow({ a, now }: { a: Alert; now: number }) {
  const sev = a.labels.severity ?? "";
  const summary = a.annotations.summary ?? a.annotations.description ?? a.annotations.message ?? "";
  return (
    <li class={`alert-row ${a.state}`} data-testid="alert-row" data-alertname={a.labels.alertname ?? ""} data-state={a.state}>
      <span class={`alert-state ${a.state}`} aria-hidden="true" />
      <div class="alert-main">
        <div class="alert-title">
          <strong>{a.labels.alertname ?? "(no name)"}</strong>
          {sev !== "" && <span class={`badge sev-badge ${sev === "critical" || sev === "page" ? "error" : ""}`}>{sev}</span>}
          {a.state !== "firing" && <span class="badge">{a.state}</span>}
        </div>
        {summary !== "" && <div class="alert-summary">{summary}</div>}
        {alertLabels(a) !== "" && <div class="alert-labels mono faint">{alertLabels(a)}</div>}
      </div>
      <span class="alert-since faint small" title={`active since ${a.activeAt}`}>
        {since(a.activeAt, now)}
      </span>
    </li>
  );
}

export function AlertsPanel({ alerts, rules }: { alerts: Load<Alert[]>; rules: Load<RuleSummary[]> }) {
  const list = alerts.data ?? [];
  const firing = list.filter((a) => a.state === "firing");
  const pending = list.filter((a) => a.state !== "firing");
  const alerting = (rules.data ?? []).filter((r) => r.type === "alerting");
  const broken = (rules.data ?? []).filter((r) => r.health === "err");
  const now = Date.now();
  return (
    <Panel
      title="Alerts"
      testId="home-alerts"
      to="/alerts"
      toLabel="Rules and alerts"
      loading={alerts.loading}
      extra={
        alerts.data !== undefined && (
          <span class={`badge${firing.length > 0 ? " error" : ""}`} data-testid="alerts-firing-count">
            {firing.length} firing
          </span>
        )
      }
    >
      <PanelBody
        load={alerts}
        what="alerts"
        isEmpty={list.length === 0}
        empty={
          <div class="alerts-empty" data-testid="alerts-empty">
            <span class="ok-mark" aria-hidden="true">
              ✓
            </span>
            <div>
              <strong>No alerts firing</strong>
              <p class="faint small">
                {rules.data === undefined
                  ? ""
                  : alerting.length === 0
                    ? "No alerting rules are loaded: add rule files under [rules] in Osprey's config."
                    : `${formatCount(alerting.length)} alerting ${alerting.length === 1 ? "rule" : "rules"} evaluated, all quiet.`}{" "}
                <Link to="/alerts" data-testid="rules-link">
                  See the rules
                </Link>
              </p>
            </div>
          </div>
        }
      >
        <ul class="alert-list">
          {[...firing, ...pending].map((a, i) => (
            <AlertRow key={`${a.labels.alertname ?? ""}${i}`} a={a} now={now} />
          ))}
        </ul>
      </PanelBody>
      {broken.length > 0 && (
        <p class="rules-broken small">
          <Icon name="alert" size={14} /> {broken.length} {broken.length === 1 ? "rule fails" : "rules fail"} to evaluate: {broken.map((r) => r.name).join(", ")}
        </p>
      )}
    </Panel>
  );
}

export const ERROR_QUERY = "severity>=error";

export function ErrorLogsPanel({ logs }: { logs: Load<SearchPage> }) {
  const hits: LogHit[] = logs.data?.hits ?? [];
  return (
    <Panel
      title="Newest error logs"
      testId="home-error-logs"
      to="/logs"
      params={{ q: ERROR_QUERY }}
      toLabel="All error logs"
      loading={logs.loading}
      extra={
        logs.data !== undefined && (
          <span class="faint small" data-testid="error-logs-count" data-value={logs.data.matched}>
            {formatCount(logs.data.matched)} in range
          </span>
        )
      }
    >
      <PanelBody
        load={logs}
        what="error logs"
        isEmpty={hits.length === 0}
        empty={
          <p class="home-empty faint" data-testid="error-logs-empty">
            No error or fatal log lines in this range.
          </p>
        }
      >
        <ul class="error-logs">
          {hits.map((l, i) => {
            const sev = severityClass(l.severity);
            return (
              <li key={`${l.timestamp}${i}`} class="error-log" data-testid="error-log-row" data-timestamp={l.timestamp}>
                <div class="error-log-meta">
                  <span class={`sev sev-${sev}`}>{(l.severity || sev).slice(0, 5)}</span>
                  <Link to="/logs" params={{ q: ERROR_QUERY, service: l.service }} class="error-log-service" data-service={l.service}>
                    {l.service === "" ? "(unknown)" : l.service}
                  </Link>
                  <span class="spacer" />
                  {l.trace_id !== "" && <TraceLink id={l.trace_id}>trace {l.trace_id.slice(0, 8)}</TraceLink>}
                  <span class="mono faint error-log-time" title={l.timestamp}>
                    {formatTimestamp(l.timestamp).slice(11, 23)}
                  </span>
                </div>
                <div class="col-body mono">
                  <LogText text={l.body} clamp={240} />
                </div>
              </li>
            );
          })}
        </ul>
      </PanelBody>
    </Panel>
  );
}
