// `/services/{name}`: one service's RED over the range (rate, errors, p50/p95/p99
// of its server spans), the same per operation (span_name), its slowest and
// most failing operations, every operation in a sortable table, and the
// services calling it and called by it (service graph).

import { useMemo } from "preact/hooks";
import { queryInstant, queryRange, type RangeSeries } from "../../api/prometheus";
import { Icon } from "../../components/Icon";
import { Link } from "../../components/Link";
import { Busy, Empty, ErrorState, Loading } from "../../components/States";
import { setRange } from "../../components/TimePicker";
import { TimeChart, type ChartSeries } from "../../components/TimeChart";
import { useLoad } from "../../lib/load";
import { align } from "../../lib/series";
import { useTimeRange } from "../../lib/refresh";
import { autoStepSeconds, formatDuration, toUrlTime } from "../../lib/time";
import type { PageProps } from "../../router";
import { RedTable } from "../services/RedTable";
import {
  CALLS,
  BUCKETS,
  ERROR,
  formatMs,
  formatPct,
  formatRate,
  GRAPH_FAILED,
  GRAPH_REQUESTS,
  lit,
  loadRed,
  PALETTE,
  SERVER,
  windowOf,
  type RedRow,
} from "../services/red";
import "../services/services.css";

/** How many operations the per-operation charts draw (the busiest). */
const TOP_OPS = 8;

interface Charts {
  total: { rate?: RangeSeries; errors?: RangeSeries; p50?: RangeSeries; p95?: RangeSeries; p99?: RangeSeries };
  ops: { rate: RangeSeries[]; errors: RangeSeries[]; p95: RangeSeries[] };
}

async function loadCharts(service: string, res: { start: number; end: number }, step: number, signal: AbortSignal): Promise<Charts> {
  const w = `${Math.max(step * 2, 60)}s`;
  const svc = `service_name=${lit(service)}`;
  const sel = `${svc}, ${SERVER}`;
  const q = (p: number, by = "") =>
    `histogram_quantile(${p}, sum by (${by}${by === "" ? "" : ", "}le) (rate(${BUCKETS}{${by === "" ? sel : svc}}[${w}])))`;
  const run = (query: string) => queryRange({ query, start: res.start, end: res.end, step }, signal).then((a) => a.data);
  const [rate, errors, p50, p95, p99, opRate, opErrors, opP95] = await Promise.all([
    run(`sum(rate(${CALLS}{${sel}}[${w}]))`),
    run(`sum(rate(${CALLS}{${sel}, ${ERROR}}[${w}]))`),
    run(q(0.5)),
    run(q(0.95)),
    run(q(0.99)),
    run(`sum by (span_name) (rate(${CALLS}{${svc}}[${w}]))`),
    run(`sum by (span_name) (rate(${CALLS}{${svc}, ${ERROR}}[${w}]))`),
    run(q(0.95, "span_name")),
  ]);
  return {
    total: { rate: rate[0], errors: errors[0], p50: p50[0], p95: p95[0], p99: p99[0] },
    ops: { rate: opRate, errors: opErrors, p95: opP95 },
  };
}

interface Edge {
  peer: string;
  rate: number;
  failed: number;
}

async function loadEdges(service: string, window: string, time: number, signal: AbortSignal): Promise<{ up: Edge[]; down: Edge[] }> {
  const vec = async (query: string, label: string) => {
    const { data } = await queryInstant({ query, time }, signal);
    const out = new Map<string, number>();
    if (data.resultType === "vector") for (const s of data.result) out.set(s.metric[label] ?? "", s.value);
    return out;
  };
  const side = async (me: "server" | "client", peer: "client" | "server") => {
    const sel = `{${me}=${lit(service)}}`;
    const [req, failed] = await Promise.all([
      vec(`sum by (${peer}) (rate(${GRAPH_REQUESTS}${sel}[${window}]))`, peer),
      vec(`sum by (${peer}) (rate(${GRAPH_FAILED}${sel}[${window}]))`, peer),
    ]);
    return [...req.entries()].map(([p, rate]) => ({ peer: p, rate, failed: failed.get(p) ?? 0 })).sort((a, b) => b.rate - a.rate);
  };
  const [up, down] = await Promise.all([side("server", "client"), side("client", "server")]);
  return { up, down };
}

function Chart({ title, series, range, yFormat, testId, legend }: { title: string; series: { label: string; s: RangeSeries | undefined; color: string }[]; range: { start: number; end: number }; yFormat: (v: number) => string; testId: string; legend?: boolean }) {
  const present = series.filter((x) => x.s !== undefined);
  const { x, rows } = align(present.map((p) => p.s as RangeSeries));
  const cs: ChartSeries[] = rows.map((values, i) => ({ label: present[i]?.label ?? "", values, color: present[i]?.color ?? "#888" }));
  return (
    <div class="panel red-chart" data-testid={testId}>
      <div class="panel-header">
        <h2>{title}</h2>
        {legend !== false && (
          <span class="chart-legend">
            {present.map((p) => (
              <span key={p.label} class="chart-legend-item" title={p.label}>
                <span class="swatch" style={{ background: p.color }} />
                {p.label}
              </span>
            ))}
          </span>
        )}
      </div>
      {present.length === 0 ? (
        <div class="chart-empty faint small">No data in this range</div>
      ) : (
        <TimeChart x={x} series={cs} kind="lines" height={160} range={range} yFormat={yFormat} onZoom={(a, b) => setRange({ from: toUrlTime(a), to: toUrlTime(b) })} />
      )}
    </div>
  );
}

function EdgeList({ title, edges, testId }: { title: string; edges: Edge[] | undefined; testId: string }) {
  return (
    <div class="panel edge-panel" data-testid={testId}>
      <div class="panel-header">
        <h2>{title}</h2>
      </div>
      {edges === undefined ? (
        <Loading />
      ) : edges.length === 0 ? (
        <div class="chart-empty faint small">None in the service graph</div>
      ) : (
        <table class="table edge-table">
          <thead>
            <tr>
              <th>Service</th>
              <th class="num">Rate</th>
              <th class="num">Failed</th>
            </tr>
          </thead>
          <tbody>
            {edges.map((e) => (
              <tr key={e.peer} data-testid="edge-row">
                <td>
                  <Link to={`/services/${encodeURIComponent(e.peer)}`}>{e.peer || "(unknown)"}</Link>
                </td>
                <td class="num mono">{formatRate(e.rate)}</td>
                <td class={`num mono${e.failed > 0 ? " red-err" : ""}`}>{formatPct(e.rate > 0 ? (e.failed / e.rate) * 100 : NaN)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function TopList({ title, rows, value, detail, testId }: { title: string; rows: OpRow[]; value: (r: OpRow) => string; detail?: (r: OpRow) => string; testId: string }) {
  return (
    <div class="panel top-panel" data-testid={testId}>
      <div class="panel-header">
        <h2>{title}</h2>
      </div>
      {rows.length === 0 ? (
        <div class="chart-empty faint small">None</div>
      ) : (
        <table class="table top-table">
          <tbody>
            {rows.map((r) => (
              <tr key={r.key} data-testid="top-row">
                <td class="op-name" title={r.labels.span_name}>
                  {r.labels.span_name}
                </td>
                <td class="num mono" title={detail?.(r)}>
                  {value(r)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

type OpRow = RedRow;

export default function Service({ params }: PageProps) {
  const name = params.name ?? "";
  const range = useTimeRange();
  const res = range.resolved ?? { start: 0, end: 0 };
  const window = windowOf(res.end - res.start);
  const step = autoStepSeconds(res, 120);
  const enabled = range.resolved !== null && name !== "";
  const charts = useLoad((s) => loadCharts(name, res, step, s), [name, res.start, res.end, step, range.tick], { label: "Could not load the service's metrics", enabled, resetOn: name });
  const ops = useLoad((s) => loadRed(["span_name", "span_kind"], `service_name=${lit(name)}`, window, res.end, s), [name, window, res.end, range.tick], {
    label: "Could not load operations",
    enabled,
    resetOn: name,
  });
  const edges = useLoad((s) => loadEdges(name, window, res.end, s), [name, window, res.end, range.tick], { label: "Could not load the service graph", enabled, resetOn: name });

  const opRows = ops.data ?? [];
  const slowest = [...opRows].filter((r) => Number.isFinite(r.p95)).sort((a, b) => b.p95 - a.p95).slice(0, 5);
  const failing = [...opRows].filter((r) => r.errors > 0).sort((a, b) => b.errorPct - a.errorPct || b.errors - a.errors).slice(0, 5);

  // Per-operation series: the busiest operations, one colour each across the three charts.
  const c = charts.data;
  const top = useMemo(() => {
    const list = (c?.ops.rate ?? []).map((s) => ({ op: s.metric.span_name ?? "", total: s.values.reduce((m, [, v]) => (Number.isFinite(v) ? m + v : m), 0) }));
    return list.sort((a, b) => b.total - a.total).slice(0, TOP_OPS).map((x) => x.op);
  }, [c]);
  const color = (op: string) => PALETTE[top.indexOf(op) % PALETTE.length] ?? "#888";
  const byOp = (list: RangeSeries[] | undefined) =>
    top.map((op) => ({ label: op, s: list?.find((s) => (s.metric.span_name ?? "") === op), color: color(op) }));
  const errRate = (r: RangeSeries | undefined, e: RangeSeries | undefined): RangeSeries | undefined => {
    if (r === undefined) return undefined;
    const errs = new Map((e?.values ?? []).map(([t, v]) => [t, v]));
    return { metric: {}, values: r.values.map(([t, v]): [number, number] => [t, v > 0 ? ((errs.get(t) ?? 0) / v) * 100 : NaN]) };
  };

  return (
    <div class="page service-page" data-testid="service-page">
      <div class="page-scroll">
        <div class="page-header service-header">
          <h1 data-testid="service-title">{name}</h1>
          <span class="muted">RED of its server spans · window {formatDuration(res.end - res.start)}</span>
          <span class="spacer" />
          <Link to="/traces" params={{ service: name }} class="btn" data-testid="service-traces-link">
            <Icon name="search" size={14} /> Traces
          </Link>
          <Link to="/traces" params={{ service: name, errors: "1" }} class="btn">
            <Icon name="alert" size={14} /> Error traces
          </Link>
          <Link to="/logs" params={{ q: `service:${name}` }} class="btn" data-testid="service-logs-link">
            <Icon name="logs" size={14} /> Logs
          </Link>
          <Link to="/services" class="btn ghost">
            All services
          </Link>
        </div>
        {range.error !== null && <ErrorState title="Invalid time range" message={range.error} />}
        {charts.error !== null && <ErrorState title="Could not load the service's metrics" message={charts.error} />}
        {ops.error !== null && <ErrorState title="Could not load operations" message={ops.error} />}

        <h2 class="section-title">Service</h2>
        <div class="chart-grid">
          <Chart
            title="Rate"
            testId="service-rate-chart"
            range={res}
            yFormat={formatRate}
            series={[
              { label: "calls", s: c?.total.rate, color: "var(--accent)" },
              { label: "errors", s: c?.total.errors, color: "var(--danger)" },
            ]}
          />
          <Chart title="Error %" testId="service-errors-chart" range={res} yFormat={formatPct} series={[{ label: "errors", s: errRate(c?.total.rate, c?.total.errors), color: "var(--danger)" }]} />
          <Chart
            title="Latency"
            testId="service-latency-chart"
            range={res}
            yFormat={formatMs}
            series={[
              { label: "p50", s: c?.total.p50, color: "#73bf69" },
              { label: "p95", s: c?.total.p95, color: "#f2cc0c" },
              { label: "p99", s: c?.total.p99, color: "#f2495c" },
            ]}
          />
        </div>

        <h2 class="section-title">
          Per operation{" "}
          {top.length > 0 && <span class="faint section-note">the {top.length} busiest, every span kind</span>}
        </h2>
        <div class="op-legend" data-testid="op-legend">
          {top.map((op) => (
            <span key={op} class="chart-legend-item" title={op}>
              <span class="swatch" style={{ background: color(op) }} />
              {op}
            </span>
          ))}
        </div>
        <div class="chart-grid">
          <Chart title="Rate" testId="op-rate-chart" range={res} yFormat={formatRate} legend={false} series={byOp(c?.ops.rate)} />
          <Chart
            title="Errors"
            testId="op-errors-chart"
            range={res}
            yFormat={formatRate}
            legend={false}
            series={byOp(c?.ops.errors).filter((x) => x.s !== undefined)}
          />
          <Chart title="p95 latency" testId="op-latency-chart" range={res} yFormat={formatMs} legend={false} series={byOp(c?.ops.p95)} />
        </div>

        <div class="top-grid">
          <TopList title="Slowest operations (p95)" testId="slowest-ops" rows={slowest} value={(r) => formatMs(r.p95)} />
          <TopList title="Most failing operations" testId="failing-ops" rows={failing} value={(r) => formatPct(r.errorPct)} detail={(r) => `${formatRate(r.errors)} errors`} />
          <EdgeList title="Called by (upstream)" testId="upstream" edges={edges.data?.up} />
          <EdgeList title="Calls (downstream)" testId="downstream" edges={edges.data?.down} />
        </div>

        <div class="panel">
          <Busy on={ops.loading} />
          <div class="panel-header">
            <h2>Operations</h2>
            <span class="muted small">{ops.data !== undefined ? `${opRows.length}` : ""}</span>
          </div>
          <div class="table-scroll">
            {ops.data === undefined && ops.loading ? (
              <Loading what="operations" />
            ) : opRows.length === 0 ? (
              <Empty>No span metrics for {name} in this time range.</Empty>
            ) : (
              <RedTable
                rows={opRows}
                nameLabel="Operation"
                name={(r) => r.labels.span_name ?? ""}
                testId="operations-table"
                rowTestId="operation-row"
                renderName={(r) => (
                  <span class="op-cell">
                    <span class="op-name" title={r.labels.span_name}>
                      {r.labels.span_name}
                    </span>
                    <span class="badge muted kind">{(r.labels.span_kind ?? "").replace("SPAN_KIND_", "").toLowerCase()}</span>
                  </span>
                )}
                extraHead={
                  <th>
                    <span class="sr-only">Links</span>
                  </th>
                }
                renderExtra={(r) => (
                  <td class="row-links">
                    <Link to="/traces" params={{ service: name, operation: r.labels.span_name ?? "" }}>
                      Traces
                    </Link>
                  </td>
                )}
              />
            )}
          </div>
        </div>
      </div>
    </div>
  );
}
