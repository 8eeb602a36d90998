// USE (utilisation, saturation, errors) per host, from either of the two
// sources hosts report through:
//
// - node_exporter, scraped: `node_cpu_seconds_total{cpu, mode}`, `node_load1`,
//   `node_memory_MemAvailable_bytes`, `node_disk_*`, `node_filesystem_*`,
//   `node_network_*`; a host is its `instance` label.
// - the OpenTelemetry Collector's hostmetrics receiver over OTLP, under
//   Prometheus' OTLP names: `system_cpu_utilization_ratio` (or
//   `system_cpu_time_seconds_total`), `system_cpu_load_average_1m`,
//   `system_memory_usage_bytes{state}`, `system_disk_io_bytes_total`,
//   `system_filesystem_usage_bytes`, `system_network_io_bytes_total`; a host is
//   its `host_name` label when the series carry one (resource attributes
//   promoted), else `instance` (`service.instance.id`), with the name from
//   `target_info{host_name}`.
//
// Which metrics exist is asked once (`/api/v1/label/__name__/values`); each
// column's PromQL is then built per source from the metrics that are there.
// Shared by `/hosts`, `/hosts/{instance}` and the home page.

import { labelNames, labelValues, queryInstant, queryRange, type RangeSeries } from "../../api/prometheus";

export type SourceId = "node" | "otel";

export interface Source {
  id: SourceId;
  /** The label that names a host. */
  key: string;
  /** The metric names of this source that exist. */
  names: Set<string>;
}

export const SOURCE_LABEL: Record<SourceId, string> = { node: "node_exporter", otel: "OTLP hostmetrics" };

/** The metric names each source is recognised by (any one is enough). */
export const LOOKED_FOR: Record<SourceId, string[]> = {
  node: [
    "node_cpu_seconds_total",
    "node_load1",
    "node_memory_MemAvailable_bytes",
    "node_memory_MemTotal_bytes",
    "node_disk_read_bytes_total",
    "node_disk_written_bytes_total",
    "node_disk_io_time_seconds_total",
    "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes",
    "node_network_receive_bytes_total",
    "node_network_transmit_bytes_total",
    "node_network_receive_errs_total",
    "node_network_transmit_errs_total",
  ],
  otel: [
    "system_cpu_utilization_ratio",
    "system_cpu_time_seconds_total",
    "system_cpu_load_average_1m",
    "system_memory_usage_bytes",
    "system_disk_io_bytes_total",
    "system_disk_io_time_seconds_total",
    "system_filesystem_usage_bytes",
    "system_network_io_bytes_total",
    "system_network_errors_total",
  ],
};

/** The metrics a source needs at least one of to count as present (CPU or memory). */
const CORE: Record<SourceId, string[]> = {
  node: ["node_cpu_seconds_total", "node_memory_MemTotal_bytes", "node_load1"],
  otel: ["system_cpu_utilization_ratio", "system_cpu_time_seconds_total", "system_memory_usage_bytes", "system_cpu_load_average_1m"],
};

const NAME_MATCH = `{__name__=~"node_(cpu_seconds|load|memory_Mem|disk_|filesystem_|network_|uname).*|system_(cpu|memory|disk|filesystem|network)_.*"}`;
const PREFIX: Record<SourceId, string> = { node: "node_", otel: "system_" };

/** The sources whose metrics exist, with the label naming a host in each. */
export async function detectSources(signal: AbortSignal): Promise<Source[]> {
  const all = await labelValues("__name__", [NAME_MATCH], signal);
  const out: Source[] = [];
  for (const id of ["node", "otel"] as const) {
    const names = new Set(all.filter((n) => n.startsWith(PREFIX[id])));
    const probe = CORE[id].find((n) => names.has(n));
    if (probe === undefined) continue;
    let key = "instance";
    if (id === "otel") {
      const labels = await labelNames([probe], signal);
      if (labels.includes("host_name")) key = "host_name";
    }
    out.push({ id, key, names });
  }
  return out;
}

/** The matcher selecting one host of a source. */
export function hostMatcher(src: Source, id: string): string {
  return `${src.key}=${lit(id)}`;
}

// ---------------------------------------------------------------------------
// The columns and their PromQL
// ---------------------------------------------------------------------------

export type UseKey = "cpu" | "load" | "mem" | "disk" | "diskBusy" | "fs" | "net" | "errors";

export type Unit = "pct" | "load" | "bytesRate" | "perSec";

export interface UseColumn {
  key: UseKey;
  label: string;
  /** What the number is (header tooltip). */
  title: string;
  unit: Unit;
  kind: "U" | "S" | "E";
}

export const COLUMNS: UseColumn[] = [
  { key: "cpu", label: "CPU", title: "CPU utilisation: share of CPU time not idle, over every CPU", unit: "pct", kind: "U" },
  { key: "load", label: "Load", title: "CPU saturation: 1-minute load average", unit: "load", kind: "S" },
  { key: "mem", label: "Memory", title: "Memory utilisation: used / total (node_exporter: 1 − MemAvailable / MemTotal)", unit: "pct", kind: "U" },
  { key: "disk", label: "Disk I/O", title: "Disk throughput: bytes read + written per second, every device", unit: "bytesRate", kind: "U" },
  { key: "diskBusy", label: "Disk busy", title: "Disk utilisation: share of time the busiest device had I/O in progress", unit: "pct", kind: "U" },
  { key: "fs", label: "Filesystem", title: "Filesystem utilisation: used share of the fullest filesystem", unit: "pct", kind: "U" },
  { key: "net", label: "Network", title: "Network throughput: bytes received + sent per second (loopback excluded)", unit: "bytesRate", kind: "U" },
  { key: "errors", label: "Errors", title: "Network errors (receive + transmit) per second", unit: "perSec", kind: "E" },
];

/** A selector: `name{a, b}` from matchers (empty ones dropped). */
export function sel(name: string, ...matchers: string[]): string {
  const m = matchers.filter((x) => x !== "");
  return m.length === 0 ? name : `${name}{${m.join(", ")}}`;
}

/** A PromQL string literal. */
export function lit(s: string): string {
  return JSON.stringify(s);
}

/** CPU states that are not work (hostmetrics names the label `state`, `cpu_state` or `cpu_mode`). */
export const OTEL_NOT_IDLE = `state!="idle", cpu_state!="idle", cpu_mode!="idle"`;
/** Filesystems that hold no data of their own. */
export const NODE_REAL_FS = `fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|autofs|proc|sysfs|fuse.*"`;

type Builder = (k: string, m: string, w: string) => string;

interface Candidate {
  needs: string[];
  expr: Builder;
}

const NODE: Record<UseKey, Candidate[]> = {
  // Busy time over all time (not 1 − idle rate), so a window the host covers only in part is not read as busy.
  cpu: [
    {
      needs: ["node_cpu_seconds_total"],
      expr: (k, m, w) =>
        `100 * sum by (${k}) (rate(${sel("node_cpu_seconds_total", m, `mode!="idle"`)}[${w}])) / sum by (${k}) (rate(${sel("node_cpu_seconds_total", m)}[${w}]))`,
    },
  ],
  load: [{ needs: ["node_load1"], expr: (k, m, w) => `avg by (${k}) (avg_over_time(${sel("node_load1", m)}[${w}]))` }],
  mem: [
    {
      needs: ["node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes"],
      expr: (k, m, w) =>
        `100 * (1 - sum by (${k}) (avg_over_time(${sel("node_memory_MemAvailable_bytes", m)}[${w}])) / sum by (${k}) (avg_over_time(${sel("node_memory_MemTotal_bytes", m)}[${w}])))`,
    },
  ],
  disk: [
    {
      needs: ["node_disk_read_bytes_total", "node_disk_written_bytes_total"],
      expr: (k, m, w) => `sum by (${k}) (rate(${sel("node_disk_read_bytes_total", m)}[${w}])) + sum by (${k}) (rate(${sel("node_disk_written_bytes_total", m)}[${w}]))`,
    },
  ],
  diskBusy: [{ needs: ["node_disk_io_time_seconds_total"], expr: (k, m, w) => `100 * max by (${k}) (rate(${sel("node_disk_io_time_seconds_total", m)}[${w}]))` }],
  fs: [
    {
      needs: ["node_filesystem_avail_bytes", "node_filesystem_size_bytes"],
      expr: (k, m, w) =>
        `100 * max by (${k}) (1 - avg_over_time(${sel("node_filesystem_avail_bytes", m, NODE_REAL_FS)}[${w}]) / avg_over_time(${sel("node_filesystem_size_bytes", m, NODE_REAL_FS)}[${w}]))`,
    },
  ],
  net: [
    {
      needs: ["node_network_receive_bytes_total", "node_network_transmit_bytes_total"],
      expr: (k, m, w) =>
        `sum by (${k}) (rate(${sel("node_network_receive_bytes_total", m, `device!="lo"`)}[${w}])) + sum by (${k}) (rate(${sel("node_network_transmit_bytes_total", m, `device!="lo"`)}[${w}]))`,
    },
  ],
  errors: [
    {
      needs: ["node_network_receive_errs_total", "node_network_transmit_errs_total"],
      expr: (k, m, w) => `sum by (${k}) (rate(${sel("node_network_receive_errs_total", m)}[${w}])) + sum by (${k}) (rate(${sel("node_network_transmit_errs_total", m)}[${w}]))`,
    },
  ],
};

const OTEL: Record<UseKey, Candidate[]> = {
  cpu: [
    {
      needs: ["system_cpu_utilization_ratio"],
      expr: (k, m, w) => `100 * avg by (${k}) (sum without (state, cpu_state, cpu_mode) (avg_over_time(${sel("system_cpu_utilization_ratio", m, OTEL_NOT_IDLE)}[${w}])))`,
    },
    {
      needs: ["system_cpu_time_seconds_total"],
      expr: (k, m, w) =>
        `100 * sum by (${k}) (rate(${sel("system_cpu_time_seconds_total", m, OTEL_NOT_IDLE)}[${w}])) / sum by (${k}) (rate(${sel("system_cpu_time_seconds_total", m)}[${w}]))`,
    },
  ],
  load: [{ needs: ["system_cpu_load_average_1m"], expr: (k, m, w) => `avg by (${k}) (avg_over_time(${sel("system_cpu_load_average_1m", m)}[${w}]))` }],
  mem: [
    {
      needs: ["system_memory_usage_bytes"],
      expr: (k, m, w) =>
        `100 * sum by (${k}) (avg_over_time(${sel("system_memory_usage_bytes", m, `state="used"`)}[${w}])) / sum by (${k}) (avg_over_time(${sel("system_memory_usage_bytes", m)}[${w}]))`,
    },
  ],
  disk: [{ needs: ["system_disk_io_bytes_total"], expr: (k, m, w) => `sum by (${k}) (rate(${sel("system_disk_io_bytes_total", m)}[${w}]))` }],
  diskBusy: [{ needs: ["system_disk_io_time_seconds_total"], expr: (k, m, w) => `100 * max by (${k}) (rate(${sel("system_disk_io_time_seconds_total", m)}[${w}]))` }],
  fs: [
    {
      needs: ["system_filesystem_usage_bytes"],
      expr: (k, m, w) =>
        `100 * max by (${k}) (sum without (state) (avg_over_time(${sel("system_filesystem_usage_bytes", m, `state="used"`)}[${w}])) / sum without (state) (avg_over_time(${sel("system_filesystem_usage_bytes", m)}[${w}])))`,
    },
  ],
  net: [{ needs: ["system_network_io_bytes_total"], expr: (k, m, w) => `sum by (${k}) (rate(${sel("system_network_io_bytes_total", m, `device!="lo"`)}[${w}]))` }],
  errors: [{ needs: ["system_network_errors_total"], expr: (k, m, w) => `sum by (${k}) (rate(${sel("system_network_errors_total", m)}[${w}]))` }],
};

const CANDIDATES: Record<SourceId, Record<UseKey, Candidate[]>> = { node: NODE, otel: OTEL };

/**
 * The PromQL of one column for one source, grouped by the source's host
 * label, over window `w`; `matcher` narrows to one host (`instance="x"`).
 * Null when the source has none of the metrics the column needs.
 */
export function useQuery(src: Source, key: UseKey, w: string, matcher = ""): string | null {
  const c = CANDIDATES[src.id][key].find((x) => x.needs.every((n) => src.names.has(n)));
  return c === undefined ? null : c.expr(src.key, matcher, w);
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

export interface HostRow {
  /** The host label's value: the route's `{instance}`. */
  id: string;
  /** What to call it (host name from target_info / node_uname_info, else the id). */
  name: string;
  source: SourceId;
  /** The label `id` is a value of. */
  key: string;
  values: Partial<Record<UseKey, number>>;
}

async function vector(query: string, time: number, signal: AbortSignal) {
  const { data } = await queryInstant({ query, time }, signal);
  return data.resultType === "vector" ? data.result : [];
}

/** Host names: OTLP `target_info{host_name}`, node_exporter `node_uname_info{nodename}`. */
async function hostNames(src: Source, w: string, time: number, signal: AbortSignal): Promise<Map<string, string>> {
  const [metric, label] = src.id === "otel" ? ["target_info", "host_name"] : ["node_uname_info", "nodename"];
  const out = new Map<string, string>();
  if (src.key === label) return out;
  const rows = await vector(`group by (${src.key}, ${label}) (last_over_time(${metric}{${label}!=""}[${w}]))`, time, signal);
  for (const r of rows) {
    const id = r.metric[src.key];
    const name = r.metric[label];
    if (id !== undefined && name !== undefined) out.set(id, name);
  }
  return out;
}

/** One row per host of every source, each column evaluated at `time` over window `w`. */
export async function loadHosts(
  sources: Source[],
  w: string,
  time: number,
  signal: AbortSignal,
  keys: UseKey[] = COLUMNS.map((c) => c.key),
  only: string | null = null,
): Promise<HostRow[]> {
  const rows = new Map<string, HostRow>();
  await Promise.all(
    sources.map(async (src) => {
      const [names, ...cols] = await Promise.all([
        hostNames(src, w, time, signal),
        ...keys.map(async (key) => {
          const q = useQuery(src, key, w, only === null ? "" : hostMatcher(src, only));
          return { key, result: q === null ? [] : await vector(q, time, signal) };
        }),
      ]);
      for (const { key, result } of cols) {
        for (const s of result) {
          const id = s.metric[src.key];
          if (id === undefined || id === "") continue;
          const rk = `${src.id}\u0000${id}`;
          let row = rows.get(rk);
          if (row === undefined) {
            row = { id, name: names.get(id) ?? id, source: src.id, key: src.key, values: {} };
            rows.set(rk, row);
          }
          row.values[key] = s.value;
        }
      }
    }),
  );
  return [...rows.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

/** Range series per column and host (`{source}\u0000{id}`), for sparklines. */
export type UseSeries = Map<UseKey, Map<string, RangeSeries>>;

/** The host page's path: `/hosts/127.0.0.1:9100` (a `:` stays readable). */
export function hostPath(id: string): string {
  return `/hosts/${encodeURIComponent(id).replace(/%3A/gi, ":")}`;
}

export function rowKey(r: { source: SourceId; id: string }): string {
  return `${r.source}\u0000${r.id}`;
}

export async function loadUseSeries(
  sources: Source[],
  keys: UseKey[],
  res: { start: number; end: number },
  step: number,
  signal: AbortSignal,
  only: string | null = null,
): Promise<UseSeries> {
  const w = `${Math.max(step * 2, 60)}s`;
  const out: UseSeries = new Map(keys.map((k) => [k, new Map<string, RangeSeries>()]));
  const jobs: Promise<void>[] = [];
  for (const src of sources) {
    for (const key of keys) {
      const q = useQuery(src, key, w, only === null ? "" : hostMatcher(src, only));
      if (q === null) continue;
      jobs.push(
        queryRange({ query: q, start: res.start, end: res.end, step }, signal).then(({ data }) => {
          const m = out.get(key);
          for (const s of data) {
            const id = s.metric[src.key];
            if (id !== undefined && m !== undefined) m.set(rowKey({ source: src.id, id }), s);
          }
        }),
      );
    }
  }
  await Promise.all(jobs);
  return out;
}

// ---------------------------------------------------------------------------
// Formatting and thresholds
// ---------------------------------------------------------------------------

const IEC = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** Bytes: `512 B`, `1.5 KiB`, `12 GiB`. */
export function formatBytes(v: number): string {
  if (!Number.isFinite(v)) return "–";
  let x = Math.abs(v);
  let i = 0;
  while (x >= 1024 && i < IEC.length - 1) {
    x /= 1024;
    i++;
  }
  const n = x >= 100 || i === 0 ? Math.round(x) : Number(x.toPrecision(3));
  return `${v < 0 ? "-" : ""}${n} ${IEC[i]}`;
}

export function formatUse(v: number | undefined, unit: Unit): string {
  if (v === undefined || !Number.isFinite(v)) return "–";
  switch (unit) {
    case "pct":
      return `${v < 10 ? v.toFixed(1) : Math.round(v)}%`;
    case "load":
      return v < 10 ? v.toFixed(2) : v.toFixed(1);
    case "bytesRate":
      return `${formatBytes(v)}/s`;
    case "perSec":
      return v === 0 ? "0/s" : `${Number(v.toPrecision(3))}/s`;
  }
}

export type Level = "ok" | "warn" | "crit" | "none";

/** How worrying a value is: percentages over 75 / 90, any errors. */
export function levelOf(v: number | undefined, unit: Unit): Level {
  if (v === undefined || !Number.isFinite(v)) return "none";
  if (unit === "pct") return v >= 90 ? "crit" : v >= 75 ? "warn" : "ok";
  if (unit === "perSec") return v > 0 ? "crit" : "ok";
  return "ok";
}

export const LEVEL_COLOR: Record<Level, string> = {
  ok: "var(--ok)",
  warn: "var(--warn)",
  crit: "var(--danger)",
  none: "var(--text-faint)",
};

export type HostSortKey = "name" | UseKey;

/** `-cpu` → descending by CPU; NaN and missing sort last either way. */
export function parseHostSort(s: string | null, fallback = "name"): { key: HostSortKey; desc: boolean } {
  const v = s ?? fallback;
  const desc = v.startsWith("-");
  const key = v.replace(/^-/, "");
  if (key === "name" || COLUMNS.some((c) => c.key === key)) return { key: key as HostSortKey, desc };
  return { key: "name", desc: false };
}

export function sortHosts(rows: HostRow[], key: HostSortKey, desc: boolean): HostRow[] {
  const out = [...rows];
  const byName = (a: HostRow, b: HostRow) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
  out.sort((a, b) => {
    if (key === "name") return (desc ? -1 : 1) * byName(a, b);
    const x = a.values[key];
    const y = b.values[key];
    const xn = x === undefined || !Number.isFinite(x);
    const yn = y === undefined || !Number.isFinite(y);
    if (xn || yn) return xn === yn ? byName(a, b) : xn ? 1 : -1;
    return (desc ? (y as number) - (x as number) : (x as number) - (y as number)) || byName(a, b);
  });
  return out;
}
