// The trace as a flame graph: one row per depth, each span a bar on the
// trace's time axis (width = duration) in its service's colour. Drawn on a
// canvas, and only the rows in view, so 10,000+ spans stay smooth; the
// canvas is sticky inside a scroller as tall as every row. Hover shows the
// span, click selects it (the same details as the waterfall), double-click
// zooms to it; the keyboard walks the tree (arrows) when the graph has focus.

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { Icon } from "../../components/Icon";
import { useStore } from "../../lib/store";
import { cssVar, theme } from "../../lib/theme";
import { formatMicros, serviceColor, type SpanNode, type TraceTree } from "../../lib/trace";
import type { SpanFocus } from "./spanRows";

const ROW = 22;
const GAP = 1;
const TICKS = 5;
/** Bars narrower than this get no label. */
const MIN_LABEL = 36;

export interface FlameProps {
  tree: TraceTree;
  self: Float64Array;
  selected: SpanNode | null;
  onSelect: (n: SpanNode | null) => void;
  matches: ReadonlySet<SpanNode> | null;
  /** Brings this span's row into view when it changes. */
  focus: SpanFocus;
}

interface Hover {
  node: SpanNode;
  x: number;
  y: number;
}

/** Spans per depth, in start order (the canvas draws and hit-tests a row at a time). */
function byDepth(tree: TraceTree): SpanNode[][] {
  const rows: SpanNode[][] = Array.from({ length: tree.maxDepth + 1 }, () => []);
  for (const n of tree.nodes) rows[n.depth]?.push(n);
  for (const r of rows) r.sort((a, b) => a.start - b.start);
  return rows;
}

export function Flame({ tree, self, selected, onSelect, matches, focus }: FlameProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const rows = useMemo(() => byDepth(tree), [tree]);
  const total = Math.max(tree.end - tree.start, 1);
  // The visible window, µs from the trace's start.
  const [zoom, setZoom] = useState<[number, number]>([0, total]);
  const [hover, setHover] = useState<Hover | null>(null);
  const [size, setSize] = useState({ w: 0, h: 0, top: 0 });
  const th = useStore(theme);
  // A refresh rebuilds the tree; only another trace (or a longer one) resets the zoom.
  useEffect(() => setZoom([0, total]), [tree.traceID, total]);

  const [z0, z1] = zoom;
  const xOf = (us: number) => ((us - tree.start - z0) / (z1 - z0)) * size.w;

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el === null) return;
    const measure = () => setSize({ w: el.clientWidth, h: el.clientHeight, top: el.scrollTop });
    const scrolled = () => {
      setHover(null);
      measure();
    };
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    el.addEventListener("scroll", scrolled, { passive: true });
    return () => {
      ro.disconnect();
      el.removeEventListener("scroll", scrolled);
    };
  }, []);

  useEffect(() => {
    if (focus === null) return;
    const el = scroller.current;
    if (el === null) return;
    const y = focus.node.depth * ROW;
    if (y < el.scrollTop || y + ROW > el.scrollTop + el.clientHeight) el.scrollTop = Math.max(0, y - el.clientHeight / 2);
    const n = focus.node;
    if (n.end < tree.start + z0 || n.start > tree.start + z1) setZoom([0, total]);
  }, [focus?.seq]);

  useEffect(() => {
    const c = canvas.current;
    if (c === null || size.w === 0) return;
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.round(size.w * dpr);
    c.height = Math.round(size.h * dpr);
    const ctx = c.getContext("2d");
    if (ctx === null) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    draw(ctx);
  }, [size, zoom, rows, selected, matches, th, hover?.node]);

  function draw(ctx: CanvasRenderingContext2D) {
    ctx.clearRect(0, 0, size.w, size.h);
    const font = `11.5px ${cssVar("--font") || "sans-serif"}`;
    ctx.font = font;
    ctx.textBaseline = "middle";
    const charW = ctx.measureText("abcdefghijklmnopqrstuvwxyz").width / 26;
    const danger = cssVar("--danger") || "#e5484d";
    const text = cssVar("--text") || "#000";
    // The axis' ticks as faint lines under the bars.
    ctx.fillStyle = cssVar("--grid") || "rgba(0,0,0,0.07)";
    for (let i = 1; i < TICKS; i++) ctx.fillRect(Math.round((size.w * i) / TICKS), 0, 1, size.h);
    const first = Math.max(0, Math.floor(size.top / ROW));
    const last = Math.min(rows.length - 1, Math.ceil((size.top + size.h) / ROW));
    for (let d = first; d <= last; d++) {
      const y = d * ROW - size.top;
      for (const n of rows[d] ?? []) {
        const x0 = xOf(n.start);
        const x1 = xOf(n.end);
        if (x1 < 0 || x0 > size.w) continue;
        const x = Math.max(x0, -2);
        const w = Math.max(Math.min(x1, size.w + 2) - x, 1);
        const dim = matches !== null && !matches.has(n);
        ctx.globalAlpha = dim ? 0.22 : n === hover?.node ? 0.85 : 1;
        ctx.fillStyle = serviceColor(n.service);
        ctx.fillRect(x, y, Math.max(w - GAP, 1), ROW - GAP);
        if (n.error) {
          ctx.fillStyle = danger;
          ctx.fillRect(x, y, Math.min(3, w), ROW - GAP);
          if (w > 6) ctx.fillRect(x, y + ROW - GAP - 2, w - GAP, 2);
        }
        if (w >= MIN_LABEL) {
          const room = Math.floor((w - 10) / charW);
          const full = `${n.span.operationName}  ${formatMicros(n.span.duration)}`;
          const label = full.length <= room ? full : room > 2 ? `${n.span.operationName.slice(0, room - 1)}…` : "";
          ctx.fillStyle = "#0b0e12";
          ctx.fillText(label, Math.max(x, 0) + 6, y + (ROW - GAP) / 2 + 0.5);
        }
      }
    }
    ctx.globalAlpha = 1;
    if (selected !== null && selected.depth >= first && selected.depth <= last) {
      const x0 = Math.max(xOf(selected.start), 0);
      const x1 = Math.min(xOf(selected.end), size.w);
      ctx.strokeStyle = text;
      ctx.lineWidth = 2;
      ctx.strokeRect(x0 + 1, selected.depth * ROW - size.top + 1, Math.max(x1 - x0 - 2 - GAP, 1), ROW - GAP - 2);
    }
  }

  /** The span under a point of the canvas (the last drawn wins, as on screen). */
  const hit = (px: number, py: number): SpanNode | null => {
    const d = Math.floor((py + size.top) / ROW);
    const row = rows[d];
    if (row === undefined) return null;
    let found: SpanNode | null = null;
    for (const n of row) {
      const x0 = xOf(n.start);
      if (x0 > px) break;
      if (px <= Math.max(xOf(n.end), x0 + 1)) found = n;
    }
    return found;
  };
  const local = (e: MouseEvent) => {
    const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };

  const onKey = (e: KeyboardEvent) => {
    const n = selected ?? tree.roots[0] ?? null;
    if (n === null) return;
    const sibs = n.parent?.children ?? tree.roots;
    const i = sibs.indexOf(n);
    const next =
      e.key === "ArrowUp"
        ? n.parent
        : e.key === "ArrowDown"
          ? (n.children[0] ?? null)
          : e.key === "ArrowLeft"
            ? (sibs[i - 1] ?? null)
            : e.key === "ArrowRight"
              ? (sibs[i + 1] ?? null)
              : undefined;
    if (next === undefined) {
      if (e.key === "Enter" && selected !== null) setZoom([selected.start - tree.start, Math.max(selected.end - tree.start, selected.start - tree.start + 1)]);
      return;
    }
    e.preventDefault();
    if (next !== null) onSelect(next);
  };

  const zoomed = z0 > 0 || z1 < total;
  const tipLeft = hover !== null && hover.x > size.w - 320;
  return (
    <div class="flame" data-testid="flame" data-span-count={tree.nodes.length} data-depth={rows.length}>
      <div class="flame-head">
        <div class="flame-axis" aria-hidden="true">
          {Array.from({ length: TICKS + 1 }, (_, i) => (
            <span key={i} class={`wf-tick${i === TICKS ? " last" : ""}`} style={{ left: `${(i / TICKS) * 100}%` }}>
              {i === 0 && z0 === 0 ? "0" : formatMicros(z0 + ((z1 - z0) * i) / TICKS)}
            </span>
          ))}
        </div>
      </div>
      {zoomed && (
        <button type="button" class="btn small flame-reset" data-testid="flame-reset" title="Show the whole trace" onClick={() => setZoom([0, total])}>
          <Icon name="zoomOut" size={14} /> Reset zoom
        </button>
      )}
      <div class="flame-scroll" ref={scroller}>
        <div class="flame-inner" style={{ height: `${Math.max(rows.length * ROW, size.h)}px` }}>
          <canvas
            ref={canvas}
            class="flame-canvas"
            data-testid="flame-canvas"
            tabIndex={0}
            role="img"
            aria-label={`Flame graph of ${tree.nodes.length} spans; arrows move the selection, Enter zooms to it`}
            style={{ width: `${size.w}px`, height: `${size.h}px` }}
            onMouseMove={(e) => {
              const p = local(e);
              const n = hit(p.x, p.y);
              setHover(n === null ? null : { node: n, ...p });
            }}
            onMouseLeave={() => setHover(null)}
            onClick={(e) => {
              const p = local(e);
              const n = hit(p.x, p.y);
              // No toggling: a double-click (zoom) clicks twice.
              if (n !== null && n !== selected) onSelect(n);
            }}
            onDblClick={(e) => {
              const p = local(e);
              const n = hit(p.x, p.y);
              if (n !== null) setZoom([n.start - tree.start, Math.max(n.end - tree.start, n.start - tree.start + 1)]);
            }}
            onKeyDown={onKey}
          />
          {hover !== null && (
            <div
              class="tip"
              role="tooltip"
              data-testid="flame-tip"
              style={{ left: `${hover.x}px`, top: `${hover.y + size.top}px`, transform: `translate(${tipLeft ? "calc(-100% - 12px)" : "12px"}, 12px)` }}
            >
              <strong>
                <span class="swatch" style={{ background: serviceColor(hover.node.service) }} /> {hover.node.service}: {hover.node.span.operationName}
              </strong>
              <span class="mono">
                {formatMicros(hover.node.span.duration)} · self {formatMicros(self[hover.node.index] ?? 0)} · at +{formatMicros(hover.node.start - tree.start)}
              </span>
              <span class="faint">
                {hover.node.error ? "error · " : ""}depth {hover.node.depth}
                {hover.node.descendants > 0 ? ` · ${hover.node.descendants} spans below` : ""} · click for details, double-click to zoom
              </span>
            </div>
          )}
        </div>
      </div>
    </div>
  );
}
