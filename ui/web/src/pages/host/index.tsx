// `/hosts/{instance}`: one host's USE at a glance (the hosts table's values
// with sparklines) and its time series: CPU by mode, load, memory, disk
// throughput and busy time, filesystems, network throughput and errors.
// Drag on a chart to zoom; the picker's range drives everything.

import { useState } from "preact/hooks";
import { fieldTerm } from "../../api/logs";
import { Icon } from "../../components/Icon";
import { Link } from "../../components/Link";
import { Busy, Empty, ErrorState, Loading } from "../../components/States";
import { setRange } from "../../components/TimePicker";
import { TimeChart, type ChartSeries } from "../../components/TimeChart";
import { useLoad } from "../../lib/load";
import { align } from "../../lib/series";
import { autoStepSeconds, formatDuration, toUrlTime } from "../../lib/time";
import type { PageProps } from "../../router";
import { PALETTE } from "../services/red";
import { Sparkline } from "../services/Sparkline";
import { NoHostMetrics, useHostsData } from "../hosts/shared";
import { COLUMNS, formatUse, LEVEL_COLOR, levelOf, rowKey, SOURCE_LABEL, type HostRow, type UseSeries } from "../hosts/use";
import { CHARTS, loadHostCharts, type ChartData, type ChartDef } from "./charts";
import "../hosts/hosts.css";

const STATE_COLORS: Record<string, string> = {
  user: "#5794f2",
  system: "#f2495c",
  iowait: "#ff9830",
  steal: "#b877d9",
  nice: "#73bf69",
  irq: "#f2cc0c",
  softirq: "#6ed0e0",
  used: "#5794f2",
  available: "#73bf69",
  free: "#73bf69",
  cached: "#f2cc0c",
  buffered: "#ff9830",
  read: "#73bf69",
  write: "#5794f2",
  receive: "#73bf69",
  transmit: "#5794f2",
  CPUs: "#8993a2",
};

function colorOf(label: string, i: number): string {
  return STATE_COLORS[label] ?? PALETTE[i % PALETTE.length] ?? "#888";
}

function HostChart({ def, data, range }: { def: ChartDef; data: ChartData | undefined; range: { start: number; end: number } }) {
  const [hover, setHover] = useState<number | null>(null);
  const list = data?.series ?? [];
  const { x, rows } = align(list.map((p) => p.s));
  const cs: ChartSeries[] = rows.map((values, i) => ({ label: list[i]?.label ?? "", values, color: colorOf(list[i]?.label ?? "", i) }));
  const valueAt = (values: (number | null)[]) => {
    if (hover !== null) return values[hover] ?? null;
    for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i] ?? null;
    return null;
  };
  return (
    <div class="panel host-chart" data-testid={`host-chart-${def.id}`}>
      <div class="panel-header">
        <h2 title={data?.queries.join("\n")}>{def.title}</h2>
        <span class="faint small">{def.note}</span>
        <span class="spacer" />
        {data !== undefined && data.queries.length > 0 && (
          <Link to="/explore" params={{ q: data.queries[0] ?? "" }} class="small" title="Open in Explore">
            <Icon name="external" size={13} />
          </Link>
        )}
      </div>
      {data === undefined ? (
        <div class="host-chart-empty">
          <Loading />
        </div>
      ) : data.series === null ? (
        <div class="host-chart-empty compact faint small" data-testid="chart-not-collected">
          Not collected by this host
        </div>
      ) : list.length === 0 ? (
        <div class="host-chart-empty faint small">No data in this range</div>
      ) : (
        <>
          <div class="chart-legend" style={{ padding: "6px 12px 0" }}>
            {cs.map((s) => (
              <span key={s.label} class="chart-legend-item" title={s.label}>
                <span class="swatch" style={{ background: s.color }} />
                {s.label}
                <span class="legend-value">{formatLegend(valueAt(s.values), def)}</span>
              </span>
            ))}
          </div>
          <TimeChart
            x={x}
            series={cs}
            kind="lines"
            stacked={def.stacked}
            height={180}
            range={range}
            yFormat={def.axis}
            onHover={setHover}
            onZoom={(a, b) => setRange({ from: toUrlTime(a), to: toUrlTime(b) })}
          />
        </>
      )}
    </div>
  );
}

function formatLegend(v: number | null, def: ChartDef): string {
  return v === null ? "–" : def.yFormat(v);
}

function StatTiles({ row, spark, range }: { row: HostRow; spark: UseSeries | undefined; range: { start: number; end: number } }) {
  const cols = COLUMNS.filter((c) => row.values[c.key] !== undefined);
  return (
    <div class="stat-grid" data-testid="host-stats">
      {cols.map((c) => {
        const v = row.values[c.key];
        const level = levelOf(v, c.unit);
        return (
          <div key={c.key} class={`panel stat lvl-${level}`} data-testid="host-stat" data-col={c.key} data-value={v ?? ""} title={c.title}>
            <span class="stat-label caps">
              <span class="use-kind">{c.kind}</span>
              {c.label}
            </span>
            <span class="stat-value">{formatUse(v, c.unit)}</span>
            <Sparkline series={spark?.get(c.key)?.get(rowKey(row))} range={range} color={LEVEL_COLOR[level === "none" ? "ok" : level]} width={240} height={30} max={c.unit === "pct" ? 100 : undefined} />
          </div>
        );
      })}
    </div>
  );
}

export default function Host({ params }: PageProps) {
  const id = params.instance ?? "";
  const { range, res, sources, hosts, spark } = useHostsData(
    COLUMNS.map((c) => c.key),
    60,
    id,
  );
  const step = autoStepSeconds(res, 150);
  const list = sources.data ?? [];
  const row = (hosts.data ?? []).find((r) => r.id === id);
  // The host's own source once known (a host not seen in the range: every source).
  const mine = row === undefined ? list : list.filter((s) => s.id === row.source);
  const srcKey = JSON.stringify(mine.map((s) => [s.id, s.key, [...s.names]]));
  const charts = useLoad((s) => loadHostCharts(mine, id, res, step, s), [srcKey, id, res.start, res.end, step, range.tick], {
    label: "Could not load the host's metrics",
    enabled: range.resolved !== null && mine.length > 0 && id !== "" && hosts.data !== undefined,
    resetOn: id,
  });
  const name = row?.name ?? id;
  const logTerm = fieldTerm("host.name", name);
  const error = sources.error ?? hosts.error ?? charts.error;

  return (
    <div class="page host-page" data-testid="host-page">
      <div class="page-scroll">
        <div class="page-header">
          <div class="host-title">
            <h1 data-testid="host-title">{name}</h1>
            {row !== undefined && (
              <span class="muted mono small">
                {row.key}="{row.id}" · {SOURCE_LABEL[row.source]}
              </span>
            )}
            <span class="muted">· window {formatDuration(res.end - res.start)}</span>
          </div>
          <span class="spacer" />
          {logTerm !== null && (
            <>
              <Link to="/logs" params={{ q: logTerm }} class="btn" data-testid="host-logs-link" title="Logs whose resource has this host.name">
                <Icon name="logs" size={14} /> Logs
              </Link>
              <Link to="/logs" params={{ q: `${logTerm} severity>=error` }} class="btn" title="Error logs of this host">
                <Icon name="alert" size={14} /> Error logs
              </Link>
            </>
          )}
          <Link to="/hosts" class="btn ghost">
            All hosts
          </Link>
        </div>
        {range.error !== null && <ErrorState title="Invalid time range" message={range.error} />}
        {error !== null && <ErrorState title="Could not load the host's metrics" message={error} />}
        {sources.data !== undefined && list.length === 0 ? (
          <div class="panel">
            <NoHostMetrics />
          </div>
        ) : (
          <>
            <Busy on={hosts.loading || charts.loading} />
            {row !== undefined ? (
              <StatTiles row={row} spark={spark.data} range={res} />
            ) : hosts.data !== undefined ? (
              <div class="panel" style={{ marginBottom: "16px" }}>
                <Empty>
                  No USE values for {id} in this time range. <Link to="/hosts">See every host</Link>
                </Empty>
              </div>
            ) : null}
            <div class="host-charts">
              {CHARTS.map((c) => (
                <HostChart key={c.id} def={c} data={charts.data?.[c.id]} range={res} />
              ))}
            </div>
          </>
        )}
      </div>
    </div>
  );
}
