// Home (`/`): the state of the system at a glance, over the picker's range:
// tiles summing it up (traffic, errors, latency, hosts, error logs, alerts),
// then services with RED and their trend, hosts with their USE, firing alerts
// and the newest error logs. Every panel and tile links to its full view.

import type { ComponentChildren } from "preact";
import { alerts as fetchAlerts, rules as fetchRules } from "../../api/alerts";
import { searchLogs } from "../../api/logs";
import { Link } from "../../components/Link";
import { ErrorState, Loading } from "../../components/States";
import { formatCount } from "../../lib/format";
import { useLoad } from "../../lib/load";
import { autoStepSeconds, formatDuration } from "../../lib/time";
import { setServiceUniverse } from "../../lib/trace";
import type { PageProps } from "../../router";
import { HostsTable } from "../hosts/HostsTable";
import { useHostsData } from "../hosts/shared";
import { formatUse, levelOf, LOOKED_FOR, type HostRow, type Level, type UseKey } from "../hosts/use";
import { CALLS, formatMs, formatPct, formatRate, loadRed, rangeBy, SERVER, type RedRow } from "../services/red";
import { AlertsPanel, ERROR_QUERY, ErrorLogsPanel, Panel, ServicesPanel } from "./panels";
import "../services/services.css";
import "./home.css";

const HOST_COLUMNS: UseKey[] = ["cpu", "load", "mem", "disk", "fs", "net"];
const ERROR_LOGS = 12;

function Tile({ kpi, label, value, sub, level, to, params }: { kpi: string; label: string; value: ComponentChildren; sub: ComponentChildren; level: Level; to: string; params?: Record<string, string | null> }) {
  return (
    <Link to={to} params={params} class={`panel tile lvl-${level}`} data-testid="home-tile" data-kpi={kpi}>
      <span class="caps">{label}</span>
      <span class="tile-value">{value}</span>
      <span class="tile-sub faint">{sub}</span>
    </Link>
  );
}

function totals(rows: RedRow[]) {
  const named = rows.filter((r) => (r.labels.service_name ?? "") !== "");
  const rate = named.reduce((s, r) => s + r.rate, 0);
  const errors = named.reduce((s, r) => s + r.errors, 0);
  const slowest = named.filter((r) => Number.isFinite(r.p95)).sort((a, b) => b.p95 - a.p95)[0];
  return { count: named.length, rate, errors, errorPct: rate > 0 ? (errors / rate) * 100 : NaN, slowest };
}

function hottest(rows: HostRow[]): HostRow | undefined {
  return rows.filter((r) => Number.isFinite(r.values.cpu ?? NaN)).sort((a, b) => (b.values.cpu ?? 0) - (a.values.cpu ?? 0))[0];
}

function worst(rows: HostRow[]): Level {
  const levels = rows.flatMap((r) => (["cpu", "mem", "fs"] as const).map((k) => levelOf(r.values[k], "pct")));
  return levels.includes("crit") ? "crit" : levels.includes("warn") ? "warn" : rows.length > 0 ? "ok" : "none";
}

export default function Home({ loc }: PageProps) {
  const hostsData = useHostsData(HOST_COLUMNS, 40);
  const { range, res, window } = hostsData;
  const enabled = range.resolved !== null;
  const red = useLoad(
    async (s) => {
      const rows = await loadRed(["service_name"], SERVER, window, res.end, s);
      setServiceUniverse(rows.map((r) => r.labels.service_name ?? ""));
      return rows;
    },
    [window, res.end, range.tick],
    { label: "Could not load service metrics", enabled },
  );
  const step = autoStepSeconds(res, 40);
  const sparkQuery = `sum by (service_name) (rate(${CALLS}{${SERVER}}[${Math.max(step * 2, 60)}s]))`;
  const spark = useLoad((s) => rangeBy(sparkQuery, "service_name", res, step, s), [sparkQuery, res.start, res.end, range.tick], {
    label: "Could not load service rates",
    enabled,
  });
  const logs = useLoad((s) => searchLogs({ query: ERROR_QUERY, start: res.start, end: res.end, limit: ERROR_LOGS }, s), [res.start, res.end, range.tick], {
    label: "Could not load error logs",
    enabled,
  });
  const alerts = useLoad((s) => fetchAlerts(s), [range.tick], { label: "Could not load alerts" });
  const rules = useLoad((s) => fetchRules("alert", s), [range.tick], { label: "Could not load rules" });

  if (range.resolved === null) return <ErrorState title="Invalid time range" message={range.error ?? ""} />;

  const t = totals(red.data ?? []);
  const hostRows = hostsData.hosts.data ?? [];
  const hot = hottest(hostRows);
  const firing = (alerts.data ?? []).filter((a) => a.state === "firing").length;
  const hostCols = HOST_COLUMNS.filter((k) => hostRows.some((r) => r.values[k] !== undefined));
  const noHosts = hostsData.sources.data !== undefined && hostsData.sources.data.length === 0;

  return (
    <div class="page home" data-testid="home-page">
      <div class="page-scroll">
        <div class="page-header">
          <h1>Overview</h1>
          <span class="muted">the last {formatDuration(res.end - res.start)} of the range</span>
        </div>
        <div class="tiles" data-testid="home-stats">
          <Tile
            kpi="rate"
            label="Requests"
            to="/services"
            level={t.count === 0 ? "none" : "ok"}
            value={red.data === undefined ? "–" : formatRate(t.rate)}
            sub={red.data === undefined ? "" : t.count === 0 ? "no span metrics" : `${formatCount(t.count)} ${t.count === 1 ? "service" : "services"}`}
          />
          <Tile
            kpi="errors"
            label="Error rate"
            to="/services"
            params={{ sort: "-errorPct" }}
            level={!Number.isFinite(t.errorPct) ? "none" : t.errorPct >= 5 ? "crit" : t.errorPct >= 1 ? "warn" : "ok"}
            value={formatPct(t.errorPct)}
            sub={t.count === 0 ? "" : `${formatRate(t.errors)} failing calls`}
          />
          <Tile kpi="p95" label="Slowest p95" to={t.slowest ? `/services/${encodeURIComponent(t.slowest.labels.service_name ?? "")}` : "/services"} level={t.slowest ? "ok" : "none"} value={t.slowest ? formatMs(t.slowest.p95) : "–"} sub={t.slowest?.labels.service_name ?? ""} />
          <Tile
            kpi="hosts"
            label="Hosts"
            to="/hosts"
            params={{ sort: "-cpu" }}
            level={worst(hostRows)}
            value={hostsData.hosts.data === undefined && !noHosts ? "–" : formatCount(hostRows.length)}
            sub={hot !== undefined ? `hottest ${hot.name}: CPU ${formatUse(hot.values.cpu, "pct")}` : noHosts ? "no host metrics" : ""}
          />
          <Tile
            kpi="error-logs"
            label="Error logs"
            to="/logs"
            params={{ q: ERROR_QUERY }}
            level={logs.data === undefined ? "none" : logs.data.matched > 0 ? "warn" : "ok"}
            value={logs.data === undefined ? "–" : formatCount(logs.data.matched)}
            sub="error and fatal lines"
          />
          <Tile
            kpi="alerts"
            label="Alerts firing"
            to="/alerts"
            level={alerts.data === undefined ? "none" : firing > 0 ? "crit" : "ok"}
            value={alerts.data === undefined ? "–" : formatCount(firing)}
            sub={alerts.data === undefined ? "" : `${(alerts.data ?? []).length - firing} pending`}
          />
        </div>
        <div class="home-grid">
          <div class="home-col">
            <ServicesPanel red={red} spark={spark.data} range={res} />
            <Panel title="Hosts" testId="home-hosts" to="/hosts" toLabel="Hosts" loading={hostsData.hosts.loading} extra={<span class="faint small">USE over the range</span>}>
              {hostsData.hosts.error !== null && <ErrorState compact message={hostsData.hosts.error} />}
              {noHosts ? (
                <p class="home-empty faint" data-testid="home-hosts-empty">
                  No host metrics: looked for node_exporter ({LOOKED_FOR.node[0]}, …) and OTLP hostmetrics ({LOOKED_FOR.otel[0]}, …) series.
                </p>
              ) : hostsData.hosts.data === undefined ? (
                <Loading what="hosts" />
              ) : hostRows.length === 0 ? (
                <p class="home-empty faint">No host reported in this range.</p>
              ) : (
                <div class="table-scroll">
                  <HostsTable rows={hostRows} columns={hostCols} spark={hostsData.spark.data} range={res} sortParam="hsort" sortValue={loc.params.get("hsort")} defaultSort="-cpu" compact />
                </div>
              )}
            </Panel>
          </div>
          <div class="home-col">
            <AlertsPanel alerts={alerts} rules={rules} />
            <ErrorLogsPanel logs={logs} />
          </div>
        </div>
      </div>
    </div>
  );
}
