// Trace duration over time: one dot per trace (errors in red) on uPlot,
// themed like TimeChart; hover names the trace, click opens it.

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "../../components/TimeChart.css";
import { timeAxis, utcDate, valueAxis } from "../../components/chartTheme";
import { useStore } from "../../lib/store";
import { cssVar, theme } from "../../lib/theme";
import { formatUtc } from "../../lib/time";
import { formatMicros, type TraceInfo } from "../../lib/trace";

export interface ScatterProps {
  traces: TraceInfo[];
  /** Epoch ms. */
  range: { start: number; end: number };
  height: number;
  onOpen: (traceID: string) => void;
}

interface Hover {
  t: TraceInfo;
  left: number;
  top: number;
}

export function Scatter({ traces, range, height, onOpen }: ScatterProps) {
  const el = useRef<HTMLDivElement>(null);
  const wrap = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const th = useStore(theme);
  const [hover, setHover] = useState<Hover | null>(null);
  const sorted = useMemo(() => [...traces].sort((a, b) => a.start - b.start), [traces]);
  const latest = useRef({ sorted, range, onOpen });
  latest.current = { sorted, range, onOpen };

  const data = useMemo((): uPlot.AlignedData => {
    const x = sorted.map((t) => t.start / 1e6);
    const ok = sorted.map((t) => (t.errors === 0 ? t.duration / 1000 : null));
    const err = sorted.map((t) => (t.errors > 0 ? t.duration / 1000 : null));
    return [x, ok, err];
  }, [sorted]);

  useLayoutEffect(() => {
    const host = el.current;
    if (host === null) return;
    const accent = cssVar("--accent");
    const danger = cssVar("--danger");
    const dot = (color: string): uPlot.Series => ({
      stroke: color,
      fill: `${color}99`,
      width: 1.25,
      paths: () => null,
      points: { show: true, size: 8, width: 1.25, stroke: color, fill: `${color}66` },
    });
    const opts: uPlot.Options = {
      width: Math.max(host.clientWidth, 100),
      height,
      legend: { show: false },
      padding: [10, 18, 0, 0],
      cursor: { show: false },
      series: [{}, { label: "traces", ...dot(accent) }, { label: "with errors", ...dot(danger) }],
      scales: {
        x: {
          time: true,
          // Fit the traces found (padded); the picker's range when there are none.
          range: () => {
            const list = latest.current.sorted;
            const r = latest.current.range;
            if (list.length === 0) return [r.start / 1000, r.end / 1000];
            const lo = (list[0]?.start ?? 0) / 1e6;
            const hi = (list[list.length - 1]?.start ?? 0) / 1e6;
            const pad = Math.max((hi - lo) * 0.05, 1);
            return [lo - pad, hi + pad];
          },
        },
        y: {
          range: (_u, _min, max) => [0, (Number.isFinite(max) && max > 0 ? max : 1) * 1.12],
        },
      },
      tzDate: utcDate,
      axes: [timeAxis(), valueAxis((v) => formatMicros(v * 1000), 56, 26)],
    };
    const u = new uPlot(opts, data, host);
    plot.current = u;

    /** The trace nearest the pointer (within 12 px). */
    const nearest = (ev: MouseEvent): Hover | null => {
      const rect = u.over.getBoundingClientRect();
      const outer = wrap.current?.getBoundingClientRect() ?? rect;
      const px = ev.clientX - rect.left;
      const py = ev.clientY - rect.top;
      let best: Hover | null = null;
      let bestD = 144;
      for (const t of latest.current.sorted) {
        const x = u.valToPos(t.start / 1e6, "x");
        const y = u.valToPos(t.duration / 1000, "y");
        const d = (x - px) ** 2 + (y - py) ** 2;
        if (d < bestD) {
          bestD = d;
          best = { t, left: x + rect.left - outer.left, top: y + rect.top - outer.top };
        }
      }
      return best;
    };
    const move = (ev: MouseEvent) => {
      const h = nearest(ev);
      u.over.style.cursor = h === null ? "default" : "pointer";
      setHover((prev) => (prev?.t === h?.t ? prev : h));
    };
    const leave = () => setHover(null);
    const click = (ev: MouseEvent) => {
      const h = nearest(ev);
      if (h !== null) latest.current.onOpen(h.t.traceID);
    };
    u.over.addEventListener("mousemove", move);
    u.over.addEventListener("mouseleave", leave);
    u.over.addEventListener("click", click);
    const ro = new ResizeObserver(() => {
      const w = Math.max(host.clientWidth, 100);
      if (w !== u.width) u.setSize({ width: w, height });
    });
    ro.observe(host);
    return () => {
      ro.disconnect();
      u.over.removeEventListener("mousemove", move);
      u.over.removeEventListener("mouseleave", leave);
      u.over.removeEventListener("click", click);
      u.destroy();
      plot.current = null;
    };
  }, [th, height]);

  useEffect(() => {
    plot.current?.setData(data, true);
    setHover(null);
  }, [data, range.start, range.end]);

  const width = wrap.current?.clientWidth ?? 0;

  return (
    <div class="scatter-wrap" ref={wrap}>
      <div class="timechart scatter" ref={el} style={{ height: `${height}px` }} data-testid="traces-scatter" />
      {hover !== null && (
        <>
          <span class={`scatter-ring${hover.t.errors > 0 ? " error" : ""}`} style={{ left: `${hover.left}px`, top: `${hover.top}px` }} />
          <div
            class="tip scatter-tip"
            role="tooltip"
            style={{
              left: `${hover.left}px`,
              top: `${hover.top}px`,
              transform: `translate(${hover.left > width - 300 ? "calc(-100% - 12px)" : "12px"}, -50%)`,
            }}
          >
            <strong>
              {hover.t.rootService}: {hover.t.rootOperation}
            </strong>
            <span>
              {formatMicros(hover.t.duration)} · {hover.t.spanCount} spans
              {hover.t.errors > 0 ? ` · ${hover.t.errors} errors` : ""}
            </span>
            <span class="faint">{formatUtc(hover.t.start / 1000, true)} UTC · click to open</span>
          </div>
        </>
      )}
    </div>
  );
}
