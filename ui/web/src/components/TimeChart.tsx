// A time-series chart on uPlot: lines or (stacked) bars over a fixed time
// range, themed from the CSS variables, drag to select a range (zoom), hover
// reported to the parent (which draws the legend), series hidden by the parent.

import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "./TimeChart.css";
import { formatCompact } from "../lib/format";
import { useStore } from "../lib/store";
import { cssVar, theme } from "../lib/theme";

export interface ChartSeries {
  label: string;
  /** One value per x; null is a gap. */
  values: (number | null)[];
  /** A CSS colour or `var(--name)`. */
  color: string;
}

export interface TimeChartProps {
  /** Seconds since the epoch, ascending. */
  x: number[];
  series: ChartSeries[];
  kind: "lines" | "bars";
  stacked?: boolean;
  /** Indexes (into `series`) not drawn. */
  hidden?: ReadonlySet<number>;
  height: number;
  /** The x range to show (epoch ms), whatever the data covers. */
  range: { start: number; end: number };
  /** A range selected by dragging (epoch ms). */
  onZoom?: (start: number, end: number) => void;
  /** The data index under the cursor, or null when it leaves. */
  onHover?: (idx: number | null) => void;
  /** Formats y axis ticks. */
  yFormat?: (v: number) => string;
  /** Bars: width of a bucket in seconds (bars start at their x). */
  barWidth?: number;
  testId?: string;
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** x tick labels in UTC, 24-hour: `18:05`, `18:05:30`, with `MM-DD` where the day changes. */
function timeTicks(splits: number[], incr: number): string[] {
  let prevDay = "";
  const multiDay = splits.length > 1 && (splits[splits.length - 1] ?? 0) - (splits[0] ?? 0) >= 86_400 - 1;
  return splits.map((s) => {
    const d = new Date(s * 1000);
    const day = `${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
    const hm = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
    const time = incr < 60 ? `${hm}:${pad2(d.getUTCSeconds())}` : hm;
    const label = incr >= 86_400 ? day : multiDay && day !== prevDay ? `${day} ${time}` : time;
    prevDay = day;
    return label;
  });
}

function resolveColor(c: string): string {
  const m = /^var\((--[\w-]+)\)$/.exec(c);
  return m ? cssVar(m[1] ?? "") || c : c;
}

function withAlpha(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{6})$/i.exec(color);
  if (hex) {
    const n = parseInt(hex[1] ?? "0", 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
  }
  const rgb = /^rgba?\(([^)]+)\)$/.exec(color);
  if (rgb) {
    const [r, g, b] = (rgb[1] ?? "").split(",").map((s) => s.trim());
    return `rgba(${r},${g},${b},${alpha})`;
  }
  return color;
}

/** Data for uPlot: stacked series become running sums (hidden ones skipped). */
function buildData(p: TimeChartProps, order: number[]): uPlot.AlignedData {
  const hidden = p.hidden ?? new Set<number>();
  if (!p.stacked) return [p.x, ...order.map((i) => p.series[i]?.values ?? [])];
  const n = p.x.length;
  const sums = new Map<number, (number | null)[]>();
  const acc: number[] = new Array<number>(n).fill(0);
  // Stack in the series' own order (index 0 at the bottom).
  for (let i = 0; i < p.series.length; i++) {
    const vals = p.series[i]?.values ?? [];
    if (hidden.has(i)) {
      sums.set(i, vals);
      continue;
    }
    const out: (number | null)[] = new Array<number | null>(n);
    for (let j = 0; j < n; j++) {
      const v = vals[j];
      if (v === null || v === undefined || !Number.isFinite(v)) {
        out[j] = acc[j] ?? 0;
      } else {
        acc[j] = (acc[j] ?? 0) + v;
        out[j] = acc[j] ?? 0;
      }
    }
    sums.set(i, out);
  }
  return [p.x, ...order.map((i) => sums.get(i) ?? [])];
}

export function TimeChart(props: TimeChartProps) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(props);
  latest.current = props;
  const t = useStore(theme);

  // Stacked bars are drawn top of the stack first, so lower levels paint over
  // the taller running sums; otherwise series keep their order.
  const order = props.series.map((_, i) => i);
  if (props.stacked && props.kind === "bars") order.reverse();
  const structure = JSON.stringify([t, props.kind, !!props.stacked, props.height, props.barWidth ?? 0, props.series.map((s) => [s.label, s.color])]);

  useLayoutEffect(() => {
    const host = el.current;
    if (host === null) return;
    const axis = cssVar("--axis");
    const grid = cssVar("--grid");
    const font = `11px ${cssVar("--font") || "sans-serif"}`;
    const p = latest.current;
    const bars = p.kind === "bars";
    const hidden = p.hidden ?? new Set<number>();
    const barPaths = bars ? uPlot.paths.bars?.({ size: [0.86, 64], align: 1, gap: 1 }) : undefined;

    const series: uPlot.Series[] = [
      {},
      ...order.map((i) => {
        const s = p.series[i];
        const color = resolveColor(s?.color ?? "#888");
        return {
          label: s?.label ?? "",
          stroke: bars ? withAlpha(color, 0) : color,
          width: bars ? 0 : 1.25,
          fill: bars ? color : p.stacked ? withAlpha(color, 0.35) : undefined,
          paths: barPaths,
          show: !hidden.has(i),
          spanGaps: false,
          points: bars ? { show: false } : undefined,
        } satisfies uPlot.Series;
      }),
    ];

    // Stacked lines fill down to the series below them (uPlot bands).
    const bands: uPlot.Band[] = [];
    if (p.stacked && !bars) {
      for (let k = 1; k < order.length; k++) bands.push({ series: [k + 1, k] });
    }

    const opts: uPlot.Options = {
      width: Math.max(host.clientWidth, 100),
      height: p.height,
      series,
      bands,
      legend: { show: false },
      padding: [8, 18, 0, 0],
      cursor: {
        drag: { x: true, y: false, setScale: false },
        points: { size: 6 },
        focus: { prox: 16 },
      },
      focus: { alpha: 0.35 },
      scales: {
        x: {
          time: true,
          range: () => {
            const r = latest.current.range;
            return [r.start / 1000, r.end / 1000];
          },
        },
        y: {
          range: (_u, min, max) => {
            const lo = Math.min(0, Number.isFinite(min) ? min : 0);
            const hi = Number.isFinite(max) && max > lo ? max : lo + 1;
            return [lo, hi + (hi - lo) * 0.06];
          },
        },
      },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      axes: [
        {
          stroke: axis,
          font,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1, size: 4 },
          space: 80,
          size: 26,
          values: (_u, splits, _ax, _space, incr) => timeTicks(splits, incr),
        },
        {
          stroke: axis,
          font,
          grid: { stroke: grid, width: 1 },
          ticks: { show: false },
          size: 48,
          space: bars ? 18 : 30,
          values: (_u, splits) => splits.map((v) => (latest.current.yFormat ?? formatCompact)(v)),
        },
      ],
      hooks: {
        setSelect: [
          (u) => {
            const { left, width } = u.select;
            if (width > 3 && latest.current.onZoom) {
              const a = u.posToVal(left, "x") * 1000;
              const b = u.posToVal(left + width, "x") * 1000;
              latest.current.onZoom(Math.min(a, b), Math.max(a, b));
            }
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          },
        ],
        setCursor: [
          (u) => {
            latest.current.onHover?.(u.cursor.idx ?? null);
          },
        ],
      },
    };
    const u = new uPlot(opts, buildData(p, order), host);
    plot.current = u;
    const over = u.over;
    const leave = () => latest.current.onHover?.(null);
    over.addEventListener("mouseleave", leave);
    const ro = new ResizeObserver(() => {
      const w = Math.max(host.clientWidth, 100);
      if (w !== u.width) u.setSize({ width: w, height: latest.current.height });
    });
    ro.observe(host);
    return () => {
      ro.disconnect();
      over.removeEventListener("mouseleave", leave);
      u.destroy();
      plot.current = null;
    };
  }, [structure]);

  // New data or visibility: update in place.
  const hiddenKey = [...(props.hidden ?? [])].join(",");
  useEffect(() => {
    const u = plot.current;
    if (u === null) return;
    const hidden = props.hidden ?? new Set<number>();
    order.forEach((i, k) => {
      const show = !hidden.has(i);
      if (u.series[k + 1]?.show !== show) u.setSeries(k + 1, { show });
    });
    u.setData(buildData(props, order), true);
  }, [props.x, props.series, hiddenKey, props.range.start, props.range.end, structure]);

  return <div class="timechart" ref={el} style={{ height: `${props.height}px` }} data-testid={props.testId} />;
}
