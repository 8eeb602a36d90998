// The service map: services and the virtual nodes they call (or are called
// by) laid out left to right by call depth, in SVG. Edge width is the request
// rate, edge colour the error rate; hovering a node or an edge shows its
// numbers, clicking a node opens its service page. Names are SVG text nodes.

import { useMemo, useRef, useState } from "preact/hooks";
import { hrefTo, navigate } from "../../router";
import { serviceColor } from "../../lib/trace";
import { ARROW, edgeColor, edgeWidth, layout, placeLabels, NODE_H, NODE_W, type GraphData, type MapNode, type NodeKind, type PlacedEdge } from "./graph";
import { formatMs, formatPct, formatRate, type RedRow } from "./red";

type Hover = { x: number; y: number } & ({ node: MapNode; edge?: undefined } | { edge: PlacedEdge; node?: undefined });

const KIND_TEXT: Record<NodeKind, string> = {
  service: "service",
  user: "users",
  database: "database",
  peer: "peer",
};
const KIND_NOTE: Record<NodeKind, string> = {
  service: "",
  user: "The callers of root server spans (no spans of its own)",
  database: "Named by client spans (db.name / db.system); sends no spans",
  peer: "Named by client spans (peer.service); sends no spans",
};

const MAX_NAME = 23;
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const seconds = (s: number) => formatMs(s * 1000);

function KindIcon({ kind, x, y }: { kind: NodeKind; x: number; y: number }) {
  // 16×16 glyphs drawn with the node's stroke colour.
  const d =
    kind === "user"
      ? "M8 2.5a2.6 2.6 0 1 0 0 5.2 2.6 2.6 0 0 0 0-5.2zM2.8 14c.6-2.9 2.7-4.4 5.2-4.4s4.6 1.5 5.2 4.4"
      : kind === "database"
        ? "M2.5 4c0-1.1 2.5-2 5.5-2s5.5.9 5.5 2-2.5 2-5.5 2-5.5-.9-5.5-2zM2.5 4v8c0 1.1 2.5 2 5.5 2s5.5-.9 5.5-2V4M2.5 8c0 1.1 2.5 2 5.5 2s5.5-.9 5.5-2"
        : "M4.5 12.5h7.3a2.7 2.7 0 0 0 .4-5.4A4 4 0 0 0 4.4 6.3a3.1 3.1 0 0 0 .1 6.2z";
  return <path class="map-icon" d={d} transform={`translate(${x},${y})`} />;
}

/** A node's second line: its rate and p95 (span metrics for services, the edges into it otherwise). */
function nodeStats(n: MapNode, red: RedRow | undefined): string {
  if (n.kind === "user") return `${formatRate(n.outRate)} out`;
  const p95 = red !== undefined && Number.isFinite(red.p95) ? ` · p95 ${formatMs(red.p95)}` : "";
  return `${formatRate(red?.rate ?? n.inRate)}${p95}`;
}

/** Its error share (NaN without errors). */
function nodeErrors(n: MapNode, red: RedRow | undefined): number {
  if (red !== undefined) return red.errors > 0 ? red.errorPct : NaN;
  return n.inFailed > 0 ? (n.inFailed / n.inRate) * 100 : NaN;
}

function Tip({ hover, red, kindLabel, width }: { hover: Hover; red: ReadonlyMap<string, RedRow>; kindLabel: string; width: number }) {
  const style = {
    left: `${hover.x}px`,
    top: `${hover.y}px`,
    transform: `translate(${hover.x > width - 320 ? "calc(-100% - 14px)" : "14px"}, 14px)`,
  };
  if (hover.edge !== undefined) {
    const e = hover.edge;
    return (
      <div class="tip map-tip" role="tooltip" data-testid="map-tip" style={style}>
        <strong>
          {e.client} → {e.server}
        </strong>
        <dl>
          <dt>Requests</dt>
          <dd class="mono">{formatRate(e.rate)}</dd>
          <dt>Failed</dt>
          <dd class={`mono${e.failed > 0 ? " map-err" : ""}`}>
            {formatRate(e.failed)} · {formatPct(e.errorPct)}
          </dd>
          <dt>Latency</dt>
          <dd class="mono">
            p50 {seconds(e.p50)} · p95 {seconds(e.p95)}
          </dd>
        </dl>
        <span class="faint">{e.latencySide === null ? "No latency recorded" : `Latency as the ${e.latencySide} measured it`}</span>
      </div>
    );
  }
  const n = hover.node;
  const r = red.get(n.name);
  return (
    <div class="tip map-tip" role="tooltip" data-testid="map-tip" style={style}>
      <strong>
        {n.name} <span class={`badge map-kind-${n.kind}`}>{KIND_TEXT[n.kind]}</span>
      </strong>
      <dl>
        {r !== undefined && (
          <>
            <dt>Rate</dt>
            <dd class="mono">
              {formatRate(r.rate)} <span class="faint">({kindLabel})</span>
            </dd>
            <dt>Errors</dt>
            <dd class={`mono${r.errors > 0 ? " map-err" : ""}`}>{formatPct(r.errorPct)}</dd>
            <dt>Latency</dt>
            <dd class="mono">
              p50 {formatMs(r.p50)} · p95 {formatMs(r.p95)} · p99 {formatMs(r.p99)}
            </dd>
          </>
        )}
        {n.callers > 0 && (
          <>
            <dt>Called</dt>
            <dd class="mono">
              {formatRate(n.inRate)} by {n.callers}
              {n.inFailed > 0 ? <span class="map-err"> · {formatPct((n.inFailed / n.inRate) * 100)} failed</span> : null}
            </dd>
          </>
        )}
        {n.callees > 0 && (
          <>
            <dt>Calls</dt>
            <dd class="mono">
              {formatRate(n.outRate)} to {n.callees}
            </dd>
          </>
        )}
      </dl>
      <span class="faint">{n.kind === "service" ? "Click to open the service" : `${KIND_NOTE[n.kind]} · click for its callers`}</span>
    </div>
  );
}

function Node({ n, red, cls, onHover, onLeave }: { n: MapNode; red: RedRow | undefined; cls: string; onHover: (e: MouseEvent | FocusEvent, n: MapNode) => void; onLeave: () => void }) {
  const href = hrefTo(`/services/${encodeURIComponent(n.name)}`);
  const virtual = n.kind !== "service";
  const textX = n.x + (virtual ? 34 : 20);
  const err = nodeErrors(n, red);
  const room = (virtual ? MAX_NAME - 2 : MAX_NAME) - (Number.isFinite(err) ? 8 : 0);
  const name = clip(n.name, room);
  const errText = Number.isFinite(err) ? `${formatPct(err)} err` : "";
  const stats = nodeStats(n, red);
  // Its name for assistive technology starts with the text shown, in document
  // order (the trailing spaces keep the words apart; SVG drops them when drawing).
  const label = `${[name, stats, errText].filter((t) => t !== "").join(" ")} (${KIND_TEXT[n.kind]}${name === n.name ? "" : `: ${n.name}`})`;
  return (
    <g class={`map-node ${virtual ? "virtual" : "service"} ${cls}`} data-testid="map-node" data-name={n.name} data-kind={n.kind} data-virtual={String(virtual)}>
      <a
        href={href}
        data-testid="map-node-link"
        aria-label={label}
        onClick={(e) => {
          if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
          e.preventDefault();
          navigate(href);
        }}
        onMouseEnter={(e) => onHover(e, n)}
        onMouseMove={(e) => onHover(e, n)}
        onMouseLeave={onLeave}
        onFocus={(e) => onHover(e, n)}
        onBlur={onLeave}
      >
        <rect class="map-box" x={n.x} y={n.y} width={NODE_W} height={NODE_H} rx={virtual ? NODE_H / 2 : 8} />
        {virtual ? <KindIcon kind={n.kind} x={n.x + 12} y={n.y + NODE_H / 2 - 8} /> : <rect x={n.x + 8} y={n.y + 10} width={4} height={NODE_H - 20} rx={2} fill={serviceColor(n.name)} />}
        <text class="map-name" x={textX} y={n.y + 19}>
          {`${name} `}
        </text>
        <text class="map-stats" x={textX} y={n.y + 35}>
          {`${stats} `}
        </text>
        {errText !== "" && (
          <text class="map-stats map-err" x={n.x + NODE_W - 10} y={n.y + 19} text-anchor="end">
            {errText}
          </text>
        )}
      </a>
    </g>
  );
}

const edgeText = (e: PlacedEdge) => `${formatRate(e.rate)}${e.failed > 0 ? ` · ${formatPct(e.errorPct)}` : ""}`;

function Edge({ e, max, cls, label, onHover, onLeave }: { e: PlacedEdge; max: number; cls: string; label: { x: number; y: number } | undefined; onHover: (ev: MouseEvent, e: PlacedEdge) => void; onLeave: () => void }) {
  const w = edgeWidth(e.rate, max);
  const color = edgeColor(e.errorPct);
  const half = 3.5 + w * 0.35;
  return (
    <g
      class={`map-edge ${cls}`}
      data-testid="map-edge"
      data-client={e.client}
      data-server={e.server}
      data-rate={e.rate}
      data-error-pct={e.errorPct}
      onMouseEnter={(ev) => onHover(ev, e)}
      onMouseMove={(ev) => onHover(ev, e)}
      onMouseLeave={onLeave}
    >
      <path class={`map-line${e.rate > 0 ? "" : " idle"}`} d={e.path} stroke={color} stroke-width={w} fill="none" />
      <polygon points={`0,${-half} ${ARROW + 1},0 0,${half}`} fill={color} transform={`translate(${e.head.x},${e.head.y}) rotate(${e.head.angle})`} />
      <path class="map-hit" d={e.path} stroke-width={Math.max(14, w + 8)} fill="none" />
      {label !== undefined && (
        <text class={`map-edge-label${e.failed > 0 ? " map-err" : ""}`} x={label.x} y={label.y} text-anchor="middle">
          {edgeText(e)}
        </text>
      )}
    </g>
  );
}

export function ServiceMap({ graph, red, filter, kindLabel }: { graph: GraphData; red: ReadonlyMap<string, RedRow>; filter: string; kindLabel: string }) {
  const lay = useMemo(() => layout(graph), [graph]);
  const [hover, setHover] = useState<Hover | null>(null);
  const outer = useRef<HTMLDivElement>(null);
  const max = lay.edges.reduce((m, e) => Math.max(m, e.rate), 0);
  const f = filter.trim().toLowerCase();

  const at = (ev: MouseEvent | FocusEvent): { x: number; y: number } => {
    const box = outer.current?.getBoundingClientRect();
    if (box === undefined) return { x: 0, y: 0 };
    if (ev instanceof MouseEvent) return { x: ev.clientX - box.left, y: ev.clientY - box.top };
    const r = (ev.currentTarget as Element).getBoundingClientRect();
    return { x: r.right - box.left - 12, y: r.bottom - box.top - 12 };
  };
  const hoverNode = (ev: MouseEvent | FocusEvent, node: MapNode) => setHover({ ...at(ev), node });
  const hoverEdge = (ev: MouseEvent, edge: PlacedEdge) => setHover({ ...at(ev), edge });
  const leave = () => setHover(null);

  // What to bring forward: the hovered node and its edges, or the hovered edge
  // and its ends, or the nodes matching the filter.
  const focusNodes = useMemo(() => {
    if (hover?.node !== undefined) {
      const s = new Set([hover.node.name]);
      for (const e of lay.edges) if (e.client === hover.node.name) s.add(e.server);
      else if (e.server === hover.node.name) s.add(e.client);
      return s;
    }
    if (hover?.edge !== undefined) return new Set([hover.edge.client, hover.edge.server]);
    if (f !== "") return new Set(lay.nodes.filter((n) => n.name.toLowerCase().includes(f)).map((n) => n.name));
    return null;
  }, [hover?.node, hover?.edge, f, lay]);
  const edgeOn = (e: PlacedEdge) => {
    if (hover?.node !== undefined) return e.client === hover.node.name || e.server === hover.node.name;
    if (hover?.edge !== undefined) return e === hover.edge;
    if (focusNodes !== null) return focusNodes.has(e.client) || focusNodes.has(e.server);
    return true;
  };
  // Label boxes at the 10.5px monospace font's advance (0.6 em).
  const labels = useMemo(() => placeLabels(lay, edgeText, 6.3), [lay]);

  return (
    <div class="map-outer" ref={outer}>
      <div class="map-scroll">
        <svg class="service-map" data-testid="service-map" width={lay.width} height={lay.height} viewBox={`0 0 ${lay.width} ${lay.height}`} role="group" aria-label={`Service map: ${lay.nodes.length} nodes, ${lay.edges.length} edges`}>
          <g class="map-edges">
            {lay.edges.map((e) => (
              <Edge key={`${e.client}\u0000${e.server}`} e={e} max={max} cls={edgeOn(e) ? (hover !== null ? "on" : "") : "dim"} label={labels.get(e)} onHover={hoverEdge} onLeave={leave} />
            ))}
          </g>
          <g class="map-nodes">
            {lay.nodes.map((n) => (
              <Node key={n.name} n={n} red={red.get(n.name)} cls={focusNodes === null || focusNodes.has(n.name) ? (hover?.node === n ? "on" : "") : "dim"} onHover={hoverNode} onLeave={leave} />
            ))}
          </g>
        </svg>
      </div>
      {hover !== null && <Tip hover={hover} red={red} kindLabel={kindLabel} width={outer.current?.clientWidth ?? 0} />}
    </div>
  );
}

/** The key under the map: what width, colour and the dashed nodes mean. */
export function MapLegend() {
  const pcts = [0, 1, 5, 10];
  return (
    <div class="map-legend small muted" data-testid="map-legend">
      <span class="map-legend-item">
        <svg width="44" height="12" aria-hidden="true">
          <line x1="2" y1="6" x2="16" y2="6" stroke="#8993a2" stroke-width="1.5" />
          <line x1="22" y1="6" x2="42" y2="6" stroke="#8993a2" stroke-width="7" />
        </svg>
        width: requests/s
      </span>
      <span class="map-legend-item">
        {pcts.map((p) => (
          <span key={p} class="map-legend-swatch" style={{ background: edgeColor(p) }} title={`${p}% errors`} />
        ))}
        colour: errors 0 → ≥10%
      </span>
      <span class="map-legend-item">
        <span class="map-legend-virtual" /> no spans of its own: users, databases, uninstrumented peers
      </span>
    </div>
  );
}
