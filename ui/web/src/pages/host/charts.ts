// The time series of one host, per source: CPU by mode/state, load, memory,
// disk throughput and busy time, filesystems, network throughput and errors.
// Each chart is a list of PromQL range queries; a query whose metric the source
// does not have is left out, a chart with none says it is not collected.

import { queryRange, type RangeSeries } from "../../api/prometheus";
import { formatBytes, hostMatcher, NODE_REAL_FS, OTEL_NOT_IDLE, sel, type Source } from "../hosts/use";

export type ChartId = "cpu" | "load" | "mem" | "disk" | "diskBusy" | "fs" | "net" | "netErrors";

export interface ChartDef {
  id: ChartId;
  title: string;
  /** What is drawn (under the title). */
  note: string;
  /** Legend values. */
  yFormat: (v: number) => string;
  /** Axis ticks (short: the axis is narrow). */
  axis: (v: number) => string;
  stacked?: boolean;
}

export const CHARTS: ChartDef[] = [
  { id: "cpu", title: "CPU", note: "% of all CPUs, by mode (idle left out)", yFormat: pct, axis: pct, stacked: true },
  { id: "load", title: "Load average", note: "runnable threads; compare with the CPU count", yFormat: num, axis: num },
  { id: "mem", title: "Memory", note: "bytes by state", yFormat: formatBytes, axis: shortBytes, stacked: true },
  { id: "disk", title: "Disk I/O", note: "bytes per second, every device", yFormat: bytesRate, axis: shortBytes },
  { id: "diskBusy", title: "Disk busy", note: "% of time with I/O in progress, per device", yFormat: pct, axis: pct },
  { id: "fs", title: "Filesystems", note: "% used, per mount point", yFormat: pct, axis: pct },
  { id: "net", title: "Network", note: "bytes per second (loopback left out)", yFormat: bytesRate, axis: shortBytes },
  { id: "netErrors", title: "Network errors", note: "errors and drops per second", yFormat: perSec, axis: num },
];

/** Axis bytes: `512`, `1.5K`, `9.3G` (powers of 1024). */
function shortBytes(v: number): string {
  let x = Math.abs(v);
  let i = 0;
  while (x >= 1024 && i < 5) {
    x /= 1024;
    i++;
  }
  const n = x >= 10 || Number.isInteger(x) ? Math.round(x) : Number(x.toFixed(1));
  return `${v < 0 ? "-" : ""}${n}${["", "K", "M", "G", "T", "P"][i]}`;
}

function pct(v: number): string {
  return `${Number(v.toPrecision(3))}%`;
}
function num(v: number): string {
  return String(Number(v.toPrecision(3)));
}
function bytesRate(v: number): string {
  return `${formatBytes(v)}/s`;
}
function perSec(v: number): string {
  return `${Number(v.toPrecision(3))}/s`;
}

interface Q {
  /** Metric names the query needs. */
  needs: string[];
  expr: string;
  /** The legend of each series: a fixed name, or from a label. */
  legend: string | ((m: Record<string, string>) => string);
}

const state = (m: Record<string, string>) => m.state ?? m.cpu_state ?? m.cpu_mode ?? m.system_memory_state ?? "value";
const device = (m: Record<string, string>) => m.device ?? "value";

function nodeQueries(m: string, w: string): Record<ChartId, Q[]> {
  const cpu = "node_cpu_seconds_total";
  return {
    cpu: [
      {
        needs: [cpu],
        expr: `100 * sum without (cpu) (rate(${sel(cpu, m, `mode!="idle"`)}[${w}])) / scalar(sum(rate(${sel(cpu, m)}[${w}])))`,
        legend: (x) => x.mode ?? "busy",
      },
    ],
    load: [
      { needs: ["node_load1"], expr: sel("node_load1", m), legend: "1m" },
      { needs: ["node_load5"], expr: sel("node_load5", m), legend: "5m" },
      { needs: ["node_load15"], expr: sel("node_load15", m), legend: "15m" },
      { needs: [cpu], expr: `count(count by (cpu) (${sel(cpu, m)}))`, legend: "CPUs" },
    ],
    mem: [
      { needs: ["node_memory_MemTotal_bytes", "node_memory_MemAvailable_bytes"], expr: `${sel("node_memory_MemTotal_bytes", m)} - ${sel("node_memory_MemAvailable_bytes", m)}`, legend: "used" },
      { needs: ["node_memory_MemAvailable_bytes"], expr: sel("node_memory_MemAvailable_bytes", m), legend: "available" },
    ],
    disk: [
      { needs: ["node_disk_read_bytes_total"], expr: `sum(rate(${sel("node_disk_read_bytes_total", m)}[${w}]))`, legend: "read" },
      { needs: ["node_disk_written_bytes_total"], expr: `sum(rate(${sel("node_disk_written_bytes_total", m)}[${w}]))`, legend: "write" },
    ],
    diskBusy: [{ needs: ["node_disk_io_time_seconds_total"], expr: `100 * rate(${sel("node_disk_io_time_seconds_total", m)}[${w}])`, legend: device }],
    fs: [
      {
        needs: ["node_filesystem_avail_bytes", "node_filesystem_size_bytes"],
        expr: `100 * (1 - ${sel("node_filesystem_avail_bytes", m, NODE_REAL_FS)} / ${sel("node_filesystem_size_bytes", m, NODE_REAL_FS)})`,
        legend: (x) => x.mountpoint ?? x.device ?? "value",
      },
    ],
    net: [
      { needs: ["node_network_receive_bytes_total"], expr: `sum(rate(${sel("node_network_receive_bytes_total", m, `device!="lo"`)}[${w}]))`, legend: "receive" },
      { needs: ["node_network_transmit_bytes_total"], expr: `sum(rate(${sel("node_network_transmit_bytes_total", m, `device!="lo"`)}[${w}]))`, legend: "transmit" },
    ],
    netErrors: [
      { needs: ["node_network_receive_errs_total"], expr: `sum(rate(${sel("node_network_receive_errs_total", m)}[${w}]))`, legend: "receive errors" },
      { needs: ["node_network_transmit_errs_total"], expr: `sum(rate(${sel("node_network_transmit_errs_total", m)}[${w}]))`, legend: "transmit errors" },
      { needs: ["node_network_receive_drop_total"], expr: `sum(rate(${sel("node_network_receive_drop_total", m)}[${w}]))`, legend: "receive drops" },
      { needs: ["node_network_transmit_drop_total"], expr: `sum(rate(${sel("node_network_transmit_drop_total", m)}[${w}]))`, legend: "transmit drops" },
    ],
  };
}

function otelQueries(m: string, w: string): Record<ChartId, Q[]> {
  const util = "system_cpu_utilization_ratio";
  const time = "system_cpu_time_seconds_total";
  const mem = "system_memory_usage_bytes";
  const fs = "system_filesystem_usage_bytes";
  return {
    cpu: [
      { needs: [util], expr: `100 * avg without (cpu) (${sel(util, m, OTEL_NOT_IDLE)})`, legend: state },
      // Without the utilisation gauge: the CPU time counter's share.
      { needs: [time], expr: `100 * sum without (cpu) (rate(${sel(time, m, OTEL_NOT_IDLE)}[${w}])) / scalar(sum(rate(${sel(time, m)}[${w}])))`, legend: state },
    ],
    load: [
      { needs: ["system_cpu_load_average_1m"], expr: sel("system_cpu_load_average_1m", m), legend: "1m" },
      { needs: ["system_cpu_load_average_5m"], expr: sel("system_cpu_load_average_5m", m), legend: "5m" },
      { needs: ["system_cpu_load_average_15m"], expr: sel("system_cpu_load_average_15m", m), legend: "15m" },
    ],
    mem: [{ needs: [mem], expr: sel(mem, m), legend: state }],
    disk: [{ needs: ["system_disk_io_bytes_total"], expr: `sum by (direction) (rate(${sel("system_disk_io_bytes_total", m)}[${w}]))`, legend: (x) => x.direction ?? "value" }],
    diskBusy: [{ needs: ["system_disk_io_time_seconds_total"], expr: `100 * rate(${sel("system_disk_io_time_seconds_total", m)}[${w}])`, legend: device }],
    fs: [
      {
        needs: [fs],
        expr: `100 * sum without (state) (${sel(fs, m, `state="used"`)}) / sum without (state) (${sel(fs, m)})`,
        legend: (x) => x.mountpoint ?? x.device ?? "value",
      },
    ],
    net: [
      { needs: ["system_network_io_bytes_total"], expr: `sum by (direction) (rate(${sel("system_network_io_bytes_total", m, `device!="lo"`)}[${w}]))`, legend: (x) => x.direction ?? "value" },
    ],
    netErrors: [
      { needs: ["system_network_errors_total"], expr: `sum by (direction) (rate(${sel("system_network_errors_total", m)}[${w}]))`, legend: (x) => `${x.direction ?? ""} errors`.trim() },
      { needs: ["system_network_dropped_total"], expr: `sum by (direction) (rate(${sel("system_network_dropped_total", m)}[${w}]))`, legend: (x) => `${x.direction ?? ""} drops`.trim() },
    ],
  };
}

export interface ChartData {
  /** Null: the source has none of the chart's metrics. */
  series: { label: string; s: RangeSeries }[] | null;
  queries: string[];
}

/** Every chart of host `id` in each source, the series of all sources together. */
export async function loadHostCharts(
  sources: Source[],
  id: string,
  res: { start: number; end: number },
  step: number,
  signal: AbortSignal,
): Promise<Record<ChartId, ChartData>> {
  const w = `${Math.max(step * 2, 60)}s`;
  const out = Object.fromEntries(CHARTS.map((c) => [c.id, { series: null, queries: [] } as ChartData])) as Record<ChartId, ChartData>;
  const parts = new Map<ChartId, { label: string; s: RangeSeries }[][]>();
  const jobs: Promise<void>[] = [];
  for (const src of sources) {
    const m = hostMatcher(src, id);
    const defs = src.id === "node" ? nodeQueries(m, w) : otelQueries(m, w);
    for (const c of CHARTS) {
      let qs = defs[c.id].filter((q) => q.needs.every((n) => src.names.has(n)));
      // The CPU chart: the first form the source has, not both.
      if (c.id === "cpu") qs = qs.slice(0, 1);
      const slots = parts.get(c.id) ?? [];
      parts.set(c.id, slots);
      for (const q of qs) {
        out[c.id].queries.push(q.expr);
        const i = slots.length;
        slots.push([]);
        jobs.push(
          queryRange({ query: q.expr, start: res.start, end: res.end, step }, signal).then(({ data }) => {
            const got = data.map((s) => ({ label: typeof q.legend === "string" ? q.legend : q.legend(s.metric), s }));
            // "used" first (the bottom of a stack), then by label.
            got.sort((x, y) => (x.label === "used" ? -1 : y.label === "used" ? 1 : x.label.localeCompare(y.label)));
            slots[i] = got;
          }),
        );
      }
    }
  }
  await Promise.all(jobs);
  for (const [cid, slots] of parts) if (slots.length > 0) out[cid].series = slots.flat();
  return out;
}
