// A time-series chart on uPlot: lines or (stacked) bars over a fixed time
// range, themed from the CSS variables, drag to select a range (zoom), hover
// reported to the parent (which may draw a legend) and shown in a readout of
// the values under the cursor, series hidden by the parent, optional markers
// (points such as exemplars) that can be hovered and clicked.

import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "./TimeChart.css";
import { formatCompact, formatValue } from "../lib/format";
import { useStore } from "../lib/store";
import { theme } from "../lib/theme";
import { Markers, Readout, type ChartMarker, type ReadoutRow } from "./ChartOverlay";
import { resolveColor, timeAxis, utcDate, valueAxis, withAlpha } from "./chartTheme";

export type { ChartMarker } from "./ChartOverlay";

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
  kind: "lines" | "bars" | "points";
  stacked?: boolean;
  /** Lines: the area under each line filled at this opacity (0–1). */
  fillOpacity?: number;
  /** Line width in CSS px (default 1.25). */
  lineWidth?: number;
  /** A fixed y range end (otherwise from the data, starting at 0 or below). */
  yMin?: number;
  yMax?: number;
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
  /** Size the y axis to its labels (long units) instead of a fixed width. */
  yAxisFit?: boolean;
  /** Bars: width of a bucket in seconds (bars start at their x). */
  barWidth?: number;
  testId?: string;
  /** A readout of every shown series' value under the cursor (default: shown). */
  tooltip?: boolean;
  /** Formats the readout's values (default: `yFormat`, else `formatValue`). */
  valueFormat?: (v: number) => string;
  /** Points drawn over the series (e.g. exemplars); the y scale makes room for them. */
  markers?: ChartMarker[];
  onMarkerClick?: (m: ChartMarker) => void;
  /** The tip shown while a marker is hovered or focused. */
  markerTip?: (m: ChartMarker) => ComponentChildren;
  /** `data-testid` of each marker (default `chart-marker`). */
  markerTestId?: string;
  /** Horizontal lines across the plot (thresholds), drawn over the series. */
  hlines?: { value: number; color: string; dashed?: boolean }[];
  /** Horizontal bands (threshold areas), drawn under the series. */
  hbands?: { from: number; to: number; color: string }[];
  /** A click on the plot (not a drag): the data index and the y value under the pointer. */
  onPlotClick?: (at: { idx: number; y: number; clientX: number; clientY: number }) => void;
}

/** Fills `hbands` across the plotting area (under the series). */
function drawBands(u: uPlot, bands: NonNullable<TimeChartProps["hbands"]>): void {
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  ctx.save();
  for (const b of bands) {
    const y0 = Math.max(top, Math.min(top + height, u.valToPos(b.to, "y", true)));
    const y1 = Math.max(top, Math.min(top + height, u.valToPos(b.from, "y", true)));
    if (!Number.isFinite(y0) || !Number.isFinite(y1) || y1 <= y0) continue;
    ctx.fillStyle = withAlpha(resolveColor(b.color), 0.12);
    ctx.fillRect(left, y0, width, y1 - y0);
  }
  ctx.restore();
}

/** Draws `hlines` across the plotting area. */
function drawLines(u: uPlot, lines: NonNullable<TimeChartProps["hlines"]>): void {
  const ctx = u.ctx;
  const { left, width } = u.bbox;
  ctx.save();
  ctx.lineWidth = Math.max(1, window.devicePixelRatio || 1);
  for (const l of lines) {
    const y = u.valToPos(l.value, "y", true);
    if (!Number.isFinite(y) || y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
    ctx.strokeStyle = resolveColor(l.color);
    ctx.setLineDash(l.dashed ? [6, 4] : []);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + width, y);
    ctx.stroke();
  }
  ctx.restore();
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

interface Cursor {
  idx: number;
  /** Viewport pixels. */
  x: number;
  y: number;
}

/** The plotting area relative to the chart's element (CSS px). */
function plotBox(u: uPlot, host: HTMLElement): { left: number; top: number; width: number; height: number } {
  const o = u.over.getBoundingClientRect();
  const h = host.getBoundingClientRect();
  return { left: o.left - h.left, top: o.top - h.top, width: o.width, height: o.height };
}

interface Handlers {
  cursor: (c: Cursor | null) => void;
  drawn: (u: uPlot) => void;
}

/** uPlot's options for the props (`latest` is read at draw time: range, markers, formats, callbacks). */
function chartOptions(p: TimeChartProps, order: number[], width: number, latest: { current: TimeChartProps }, on: Handlers): uPlot.Options {
  const bars = p.kind === "bars";
  const points = p.kind === "points";
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
        width: bars ? 0 : (p.lineWidth ?? 1.25),
        fill: bars ? color : p.stacked ? withAlpha(color, p.fillOpacity ?? 0.35) : p.fillOpacity ? withAlpha(color, p.fillOpacity) : undefined,
        paths: points ? () => null : barPaths,
        show: !hidden.has(i),
        spanGaps: false,
        points: bars ? { show: false } : points ? { show: true, size: 5, fill: color } : undefined,
      } satisfies uPlot.Series;
    }),
  ];

  // Stacked lines fill down to the series below them (uPlot bands).
  const bands: uPlot.Band[] = [];
  if (p.stacked && !bars) {
    for (let k = 1; k < order.length; k++) bands.push({ series: [k + 1, k] });
  }

  return {
    width,
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
          let lo = Number.isFinite(min) ? min : 0;
          let hi = Number.isFinite(max) ? max : lo;
          // Markers (exemplars) inside the x range are on the scale too.
          const r = latest.current.range;
          for (const m of latest.current.markers ?? []) {
            if (!Number.isFinite(m.y) || m.x * 1000 < r.start || m.x * 1000 > r.end) continue;
            lo = Math.min(lo, m.y);
            hi = Math.max(hi, m.y);
          }
          lo = Math.min(0, lo);
          const { yMin, yMax } = latest.current;
          if (yMin !== undefined) lo = yMin;
          if (!(hi > lo)) hi = lo + 1;
          if (yMax !== undefined && yMax > lo) return [lo, yMax];
          return [lo, hi + (hi - lo) * 0.06];
        },
      },
    },
    tzDate: utcDate,
    axes: [timeAxis(), valueAxis((v) => (latest.current.yFormat ?? formatCompact)(v), p.yAxisFit ? "fit" : 48, bars ? 18 : 30)],
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
          const idx = u.cursor.idx ?? null;
          latest.current.onHover?.(idx);
          const { left, top } = u.cursor;
          if (idx === null || left === undefined || top === undefined || left < 0) {
            on.cursor(null);
            return;
          }
          const o = u.over.getBoundingClientRect();
          on.cursor({ idx, x: o.left + left, y: o.top + top });
        },
      ],
      drawClear: [
        (u) => {
          const bands = latest.current.hbands;
          if (bands !== undefined && bands.length > 0) drawBands(u, bands);
        },
      ],
      draw: [
        (u) => {
          const lines = latest.current.hlines;
          if (lines !== undefined && lines.length > 0) drawLines(u, lines);
        },
        on.drawn,
      ],
    },
  };
}

export function TimeChart(props: TimeChartProps) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(props);
  latest.current = props;
  const t = useStore(theme);
  const [cursor, setCursor] = useState<Cursor | null>(null);
  // Set after each redraw, so markers follow the scales and the size.
  const [box, setBox] = useState<{ left: number; top: number; width: number; height: number } | null>(null);

  // Stacked bars are drawn top of the stack first, so lower levels paint over
  // the taller running sums; otherwise series keep their order.
  const order = props.series.map((_, i) => i);
  if (props.stacked && props.kind === "bars") order.reverse();
  const structure = JSON.stringify([
    t,
    props.kind,
    !!props.stacked,
    props.height,
    props.barWidth ?? 0,
    props.fillOpacity ?? 0,
    props.lineWidth ?? 0,
    props.series.map((s) => [s.label, s.color]),
  ]);

  useLayoutEffect(() => {
    const host = el.current;
    if (host === null) return;
    const p = latest.current;
    const opts = chartOptions(p, order, Math.max(host.clientWidth, 100), latest, {
      cursor: setCursor,
      drawn: (u) => setBox(plotBox(u, host)),
    });
    const u = new uPlot(opts, buildData(p, order), host);
    plot.current = u;
    setBox(plotBox(u, host));
    const over = u.over;
    const leave = () => {
      latest.current.onHover?.(null);
      setCursor(null);
    };
    over.addEventListener("mouseleave", leave);
    // A click is a press and release in one place (a drag zooms instead).
    let down: [number, number] | null = null;
    const press = (e: MouseEvent) => {
      down = [e.clientX, e.clientY];
    };
    const click = (e: MouseEvent) => {
      const at = down;
      down = null;
      const cb = latest.current.onPlotClick;
      const idx = u.cursor.idx;
      if (cb === undefined || at === null || idx === null || idx === undefined) return;
      if (Math.abs(e.clientX - at[0]) > 3 || Math.abs(e.clientY - at[1]) > 3) return;
      cb({ idx, y: u.posToVal(u.cursor.top ?? 0, "y"), clientX: e.clientX, clientY: e.clientY });
    };
    over.addEventListener("mousedown", press);
    over.addEventListener("mouseup", click);
    const ro = new ResizeObserver(() => {
      const w = Math.max(host.clientWidth, 100);
      if (w !== u.width) u.setSize({ width: w, height: latest.current.height });
    });
    ro.observe(host);
    return () => {
      ro.disconnect();
      over.removeEventListener("mouseleave", leave);
      over.removeEventListener("mousedown", press);
      over.removeEventListener("mouseup", click);
      u.destroy();
      plot.current = null;
    };
  }, [structure]);

  // New data, visibility or markers: update in place.
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
  }, [props.x, props.series, hiddenKey, props.range.start, props.range.end, props.markers, structure, JSON.stringify([props.hlines ?? [], props.hbands ?? []])]);

  const u = plot.current;
  const readout = (): ReadoutRow[] => {
    if (cursor === null) return [];
    const hidden = props.hidden ?? new Set<number>();
    const rows: ReadoutRow[] = [];
    props.series.forEach((s, i) => {
      const v = s.values[cursor.idx];
      if (hidden.has(i) || v === null || v === undefined || !Number.isFinite(v)) return;
      // Bars are counts: an empty level says nothing.
      if (props.kind === "bars" && v === 0) return;
      rows.push({ label: s.label, color: s.color, value: v });
    });
    return rows;
  };
  const time = cursor !== null ? props.x[cursor.idx] : undefined;
  const markers = props.markers ?? [];

  return (
    <div class="timechart" style={{ height: `${props.height}px` }} data-testid={props.testId}>
      {/* uPlot's own DOM lives in this element, apart from the overlays Preact renders. */}
      <div ref={el} />
      {props.tooltip !== false && cursor !== null && time !== undefined && (
        <Readout
          x={cursor.x}
          y={cursor.y}
          time={time}
          rows={readout()}
          format={props.valueFormat ?? props.yFormat ?? formatValue}
          empty={props.kind === "bars" ? "0" : "no value"}
        />
      )}
      {markers.length > 0 && u !== null && box !== null && (
        <Markers
          markers={markers}
          box={box}
          pos={(m) => {
            const left = u.valToPos(m.x, "x");
            const top = u.valToPos(m.y, "y");
            if (!Number.isFinite(left) || !Number.isFinite(top) || left < -1 || left > box.width + 1 || top < -1 || top > box.height + 1) return null;
            return { left, top };
          }}
          onClick={props.onMarkerClick}
          tip={props.markerTip}
          testId={props.markerTestId}
        />
      )}
    </div>
  );
}
