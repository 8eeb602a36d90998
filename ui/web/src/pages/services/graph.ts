// The service map's data and layout (no DOM). Edges come from Osprey's
// service-graph series (the OpenTelemetry Collector servicegraph connector's
// names): `traces_service_graph_request_total` and `…_failed_total` for the
// rate and errors, `…_request_{server,client}_seconds_bucket` for latency.
// A node that sends no spans of its own (no span-metrics series) is virtual:
// `user` (the caller of root server spans), a database or an uninstrumented
// peer named by a client span's `peer.service` / `db.name` / `db.system`.

import { queryInstant } from "../../api/prometheus";
import { CALLS, GRAPH_FAILED, GRAPH_REQUESTS } from "./red";

const GRAPH_SECONDS = "traces_service_graph_request";

export interface MapEdge {
  client: string;
  server: string;
  /** Requests per second over the window. */
  rate: number;
  failed: number;
  /** failed / rate, 0–100; NaN without requests. */
  errorPct: number;
  /** Seconds, from the server side's histogram (the client's when the server sent no span); NaN when unknown. */
  p50: number;
  p95: number;
  latencySide: "server" | "client" | null;
}

export type NodeKind = "service" | "user" | "database" | "peer";

export interface GraphData {
  edges: MapEdge[];
  /** Services that send spans (have span-metrics series in the window). */
  services: Set<string>;
}

type Vec = Map<string, { labels: Record<string, string>; value: number }>;

const edgeKey = (client: string, server: string) => `${client}\u0000${server}`;

async function vec(query: string, time: number, signal: AbortSignal, key: (l: Record<string, string>) => string): Promise<Vec> {
  const { data } = await queryInstant({ query, time }, signal);
  const out: Vec = new Map();
  if (data.resultType === "vector") for (const s of data.result) out.set(key(s.metric), { labels: s.metric, value: s.value });
  return out;
}

/** The queries behind the map (also offered as "Query in Explore"). */
export function graphQueries(window: string) {
  const q = (p: number, side: string) => `histogram_quantile(${p}, sum by (client, server, le) (rate(${GRAPH_SECONDS}_${side}_seconds_bucket[${window}])))`;
  return {
    rate: `sum by (client, server) (rate(${GRAPH_REQUESTS}[${window}]))`,
    failed: `sum by (client, server) (rate(${GRAPH_FAILED}[${window}]))`,
    serverP50: q(0.5, "server"),
    serverP95: q(0.95, "server"),
    clientP50: q(0.5, "client"),
    clientP95: q(0.95, "client"),
    services: `count by (service_name) (count_over_time(${CALLS}[${window}]))`,
  };
}

/** Every edge of the service graph at `time` (epoch ms) over `window`. */
export async function loadGraph(window: string, time: number, signal: AbortSignal): Promise<GraphData> {
  const q = graphQueries(window);
  const byEdge = (l: Record<string, string>) => edgeKey(l.client ?? "", l.server ?? "");
  const [rate, failed, sp50, sp95, cp50, cp95, svcs] = await Promise.all([
    vec(q.rate, time, signal, byEdge),
    vec(q.failed, time, signal, byEdge),
    vec(q.serverP50, time, signal, byEdge),
    vec(q.serverP95, time, signal, byEdge),
    vec(q.clientP50, time, signal, byEdge),
    vec(q.clientP95, time, signal, byEdge),
    vec(q.services, time, signal, (l) => l.service_name ?? ""),
  ]);
  const edges: MapEdge[] = [];
  for (const [k, r] of rate) {
    const f = failed.get(k)?.value ?? 0;
    const s95 = sp95.get(k)?.value ?? NaN;
    const c95 = cp95.get(k)?.value ?? NaN;
    const side = Number.isFinite(s95) ? "server" : Number.isFinite(c95) ? "client" : null;
    edges.push({
      client: r.labels.client ?? "",
      server: r.labels.server ?? "",
      rate: r.value,
      failed: f,
      errorPct: r.value > 0 ? (f / r.value) * 100 : NaN,
      p50: (side === "server" ? sp50.get(k)?.value : side === "client" ? cp50.get(k)?.value : NaN) ?? NaN,
      p95: side === "server" ? s95 : side === "client" ? c95 : NaN,
      latencySide: side,
    });
  }
  edges.sort((a, b) => a.client.localeCompare(b.client) || a.server.localeCompare(b.server));
  return { edges, services: new Set([...svcs.keys()].filter((s) => s !== "")) };
}

const DB_NAME = /sql|redis|mongo|cassandra|elastic|opensearch|memcache|dynamo|clickhouse|oracle|mariadb|sqlite|couch|neo4j|etcd|\bdb\b|database|cache/i;

/** What a node is: a service with spans, the `user`, or (by its name) a database or another peer. */
export function nodeKind(name: string, services: ReadonlySet<string>): NodeKind {
  if (services.has(name)) return "service";
  if (name === "user") return "user";
  return DB_NAME.test(name) ? "database" : "peer";
}

// ---------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------

export const NODE_W = 204;
export const NODE_H = 46;
export const ARROW = 7;
const GAP_X = 110;
const GAP_Y = 26;
const PAD = 24;

export interface MapNode {
  name: string;
  kind: NodeKind;
  layer: number;
  x: number;
  y: number;
  /** Sums over the edges into and out of the node. */
  inRate: number;
  inFailed: number;
  outRate: number;
  callers: number;
  callees: number;
}

export interface PlacedEdge extends MapEdge {
  /** SVG path of the edge and where its arrow head sits. */
  path: string;
  /** The arrow's base and direction (degrees, 0 = pointing right); its tip is {@link ARROW} further. */
  head: { x: number; y: number; angle: number };
  /** The cubic Bézier's points: x0, y0, c1x, c1y, c2x, c2y, x1, y1. */
  curve: number[];
  back: boolean;
}

export interface Layout {
  nodes: MapNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

/**
 * A layered (left-to-right by call depth) layout, written here rather than
 * taken from a graph-layout package: service graphs are small (tens of nodes),
 * and the steps of a Sugiyama layout that matter at that size are short —
 * break cycles with a DFS, layer by longest path, order each layer by the
 * barycentre of its neighbours for a few sweeps, then place on a grid. It is
 * deterministic (ties broken by name), so the map does not move between refreshes.
 */
export function layout(data: GraphData): Layout {
  const names = new Set<string>();
  for (const e of data.edges) {
    names.add(e.client);
    names.add(e.server);
  }
  const sorted = [...names].sort((a, b) => (a === "user" ? -1 : b === "user" ? 1 : a.localeCompare(b)));
  const out = new Map<string, string[]>(sorted.map((n) => [n, []]));
  const inc = new Map<string, string[]>(sorted.map((n) => [n, []]));
  for (const e of data.edges) {
    if (e.client === e.server) continue;
    out.get(e.client)?.push(e.server);
    inc.get(e.server)?.push(e.client);
  }
  for (const l of out.values()) l.sort();

  const back = backEdges(sorted, out, inc);
  const isFwd = (a: string, b: string) => a !== b && !back.has(edgeKey(a, b));
  const layer = longestPath(sorted, out, inc, isFwd);

  const layers: string[][] = [];
  for (const n of sorted) (layers[layer.get(n) ?? 0] ??= []).push(n);
  for (let i = 0; i < layers.length; i++) layers[i] ??= [];
  orderLayers(layers, out, inc);

  // Grid positions, each layer centred on the tallest.
  const tallest = Math.max(...layers.map((l) => l.length), 1);
  const height = PAD * 2 + tallest * NODE_H + (tallest - 1) * GAP_Y;
  const nodes = new Map<string, MapNode>();
  layers.forEach((names, li) => {
    const h = names.length * NODE_H + (names.length - 1) * GAP_Y;
    const top = (height - h) / 2;
    names.forEach((name, i) => {
      nodes.set(name, {
        name,
        kind: nodeKind(name, data.services),
        layer: li,
        x: PAD + li * (NODE_W + GAP_X),
        y: top + i * (NODE_H + GAP_Y),
        inRate: 0,
        inFailed: 0,
        outRate: 0,
        callers: 0,
        callees: 0,
      });
    });
  });
  for (const e of data.edges) {
    const c = nodes.get(e.client);
    const s = nodes.get(e.server);
    if (c === undefined || s === undefined) continue;
    c.outRate += e.rate;
    c.callees++;
    s.inRate += e.rate;
    s.inFailed += e.failed;
    s.callers++;
  }
  const width = PAD * 2 + layers.length * NODE_W + Math.max(layers.length - 1, 0) * GAP_X;
  const edges = routeEdges(data.edges, nodes, isFwd);
  const bottom = Math.max(height, ...edges.filter((e) => e.back).map((e) => (e.curve[3] ?? 0) + 14));
  return { nodes: [...nodes.values()], edges, width, height: bottom };
}

/** Edges that close a cycle, found by a depth-first walk from the sources (then from any node left). */
function backEdges(names: string[], out: Map<string, string[]>, inc: Map<string, string[]>): Set<string> {
  const state = new Map<string, 1 | 2>();
  const back = new Set<string>();
  const starts = [...names.filter((n) => (inc.get(n) ?? []).length === 0), ...names];
  for (const s of starts) {
    if (state.has(s)) continue;
    // Iterative DFS: a frame is (node, index of the next child).
    const stack: [string, number][] = [[s, 0]];
    state.set(s, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as [string, number];
      const kids = out.get(top[0]) ?? [];
      if (top[1] >= kids.length) {
        state.set(top[0], 2);
        stack.pop();
        continue;
      }
      const k = kids[top[1]++] as string;
      const st = state.get(k);
      if (st === 1) back.add(edgeKey(top[0], k));
      else if (st === undefined) {
        state.set(k, 1);
        stack.push([k, 0]);
      }
    }
  }
  return back;
}

/** Layer = longest path from a source; then sources move right next to their nearest callee. */
function longestPath(names: string[], out: Map<string, string[]>, inc: Map<string, string[]>, fwd: (a: string, b: string) => boolean): Map<string, number> {
  const indeg = new Map(names.map((n) => [n, (inc.get(n) ?? []).filter((p) => fwd(p, n)).length]));
  const layer = new Map(names.map((n) => [n, 0]));
  const queue = names.filter((n) => indeg.get(n) === 0);
  for (let i = 0; i < queue.length; i++) {
    const n = queue[i] as string;
    for (const k of out.get(n) ?? []) {
      if (!fwd(n, k)) continue;
      layer.set(k, Math.max(layer.get(k) ?? 0, (layer.get(n) ?? 0) + 1));
      const d = (indeg.get(k) ?? 0) - 1;
      indeg.set(k, d);
      if (d === 0) queue.push(k);
    }
  }
  for (const n of names) {
    const kids = (out.get(n) ?? []).filter((k) => fwd(n, k));
    const hasIn = (inc.get(n) ?? []).some((p) => fwd(p, n));
    if (!hasIn && kids.length > 0) layer.set(n, Math.min(...kids.map((k) => layer.get(k) ?? 1)) - 1);
  }
  return layer;
}

/** Barycentre ordering: a few down and up sweeps, ties by the current position. */
function orderLayers(layers: string[][], out: Map<string, string[]>, inc: Map<string, string[]>): void {
  const pos = new Map<string, number>();
  const index = () => layers.forEach((l) => l.forEach((n, i) => pos.set(n, i)));
  index();
  const bary = (n: string, nbrs: string[]) => {
    const p = nbrs.map((m) => pos.get(m)).filter((v): v is number => v !== undefined);
    return p.length === 0 ? (pos.get(n) ?? 0) : p.reduce((a, b) => a + b, 0) / p.length;
  };
  for (let sweep = 0; sweep < 6; sweep++) {
    const down = sweep % 2 === 0;
    const seq = down ? layers.slice(1) : layers.slice(0, -1).reverse();
    for (const l of seq) {
      const key = new Map(l.map((n) => [n, bary(n, (down ? inc : out).get(n) ?? [])]));
      l.sort((a, b) => (key.get(a) ?? 0) - (key.get(b) ?? 0) || (pos.get(a) ?? 0) - (pos.get(b) ?? 0));
      l.forEach((n, i) => pos.set(n, i));
    }
  }
}

/**
 * Curves between the nodes: forward edges leave the caller's right side and
 * enter the callee's left, with the ports spread by the other end's height so
 * they do not cross at the node; edges that close a cycle loop underneath.
 */
function routeEdges(edges: MapEdge[], nodes: Map<string, MapNode>, fwd: (a: string, b: string) => boolean): PlacedEdge[] {
  const outs = new Map<string, MapEdge[]>();
  const ins = new Map<string, MapEdge[]>();
  for (const e of edges) {
    if (!fwd(e.client, e.server)) continue;
    (outs.get(e.client) ?? outs.set(e.client, []).get(e.client) ?? []).push(e);
    (ins.get(e.server) ?? ins.set(e.server, []).get(e.server) ?? []).push(e);
  }
  const yOf = (n: string) => nodes.get(n)?.y ?? 0;
  const port = (list: MapEdge[] | undefined, e: MapEdge, other: (e: MapEdge) => string, node: MapNode) => {
    const l = [...(list ?? [])].sort((a, b) => yOf(other(a)) - yOf(other(b)) || other(a).localeCompare(other(b)));
    const i = l.indexOf(e);
    const span = Math.min(NODE_H * 0.6, (l.length - 1) * 8);
    return node.y + NODE_H / 2 + (l.length <= 1 ? 0 : -span / 2 + (span * i) / (l.length - 1));
  };
  const placed: PlacedEdge[] = [];
  for (const e of edges) {
    const a = nodes.get(e.client);
    const b = nodes.get(e.server);
    if (a === undefined || b === undefined) continue;
    if (a === b) {
      const x = a.x + NODE_W - 24;
      const y = a.y;
      placed.push(curve(e, true, [x, y, x - 10, y - 40, x + 40, y - 40, x + 18, y - ARROW], 90));
    } else if (fwd(e.client, e.server)) {
      const x1 = a.x + NODE_W;
      const y1 = port(outs.get(e.client), e, (x) => x.server, a);
      const x2 = b.x - ARROW;
      const y2 = port(ins.get(e.server), e, (x) => x.client, b);
      const dx = Math.max(40, (x2 - x1) / 2);
      placed.push(curve(e, false, [x1, y1, x1 + dx, y1, x2 - dx, y2, x2, y2], 0));
    } else {
      // Back to an earlier layer: out of the caller's bottom, into the callee's bottom.
      const x1 = a.x + NODE_W / 2 + 10;
      const y1 = a.y + NODE_H;
      const x2 = b.x + NODE_W / 2 - 10;
      const y2 = b.y + NODE_H + ARROW;
      const dip = Math.max(y1, y2) + 40;
      placed.push(curve(e, true, [x1, y1, x1, dip, x2, dip, x2, y2], -90));
    }
  }
  return placed;
}

function curve(e: MapEdge, back: boolean, c: number[], angle: number): PlacedEdge {
  const [x0, y0, ax, ay, bx, by, x1, y1] = c.map((v) => Math.round(v * 10) / 10) as [number, number, number, number, number, number, number, number];
  return { ...e, back, curve: [x0, y0, ax, ay, bx, by, x1, y1], path: `M${x0},${y0} C${ax},${ay} ${bx},${by} ${x1},${y1}`, head: { x: x1, y: y1, angle } };
}

/** The point at `t` (0–1) along an edge's curve. */
export function pointAt(c: number[], t: number): { x: number; y: number } {
  const u = 1 - t;
  const [a, b, cc, d] = [u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t];
  const v = (i: number) => a * (c[i] ?? 0) + b * (c[i + 2] ?? 0) + cc * (c[i + 4] ?? 0) + d * (c[i + 6] ?? 0);
  return { x: v(0), y: v(1) };
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}
const overlaps = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/**
 * Where each edge's label goes: busiest edges first, the first spot along the
 * curve that overlaps no node, no label already placed and no other edge's
 * line (sampled), so a label is never ambiguous; an edge with no free spot has
 * no label (its numbers are in the hover card).
 */
export function placeLabels(lay: Layout, text: (e: PlacedEdge) => string, charW: number): Map<PlacedEdge, { x: number; y: number }> {
  const taken: Box[] = lay.nodes.map((n) => ({ x: n.x - 4, y: n.y - 4, w: NODE_W + 8, h: NODE_H + 8 }));
  const samples: { e: PlacedEdge; x: number; y: number }[] = [];
  for (const e of lay.edges) for (let t = 0; t <= 1; t += 0.025) samples.push({ e, ...pointAt(e.curve, t) });
  const out = new Map<PlacedEdge, { x: number; y: number }>();
  const order = [...lay.edges].sort((a, b) => b.rate - a.rate || a.client.localeCompare(b.client) || a.server.localeCompare(b.server));
  for (const e of order) {
    const w = text(e).length * charW + 8;
    for (const t of [0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74, 0.18, 0.82]) {
      const p = pointAt(e.curve, t);
      const box = { x: p.x - w / 2, y: p.y - 18, w, h: 16 };
      if (taken.some((b) => overlaps(b, box))) continue;
      if (samples.some((s) => s.e !== e && s.x > box.x && s.x < box.x + box.w && s.y > box.y && s.y < box.y + box.h)) continue;
      taken.push(box);
      out.set(e, { x: p.x, y: p.y - 6 });
      break;
    }
  }
  return out;
}

/** Grey with no errors, red from about 10 % errors up (square root: small rates still show). */
export function edgeColor(errorPct: number): string {
  if (!Number.isFinite(errorPct) || errorPct <= 0) return "#8993a2";
  const t = Math.min(1, Math.max(0.18, Math.sqrt(errorPct / 10)));
  const mix = (a: number, b: number) => Math.round(a + (b - a) * t);
  return `rgb(${mix(0x89, 0xe5)},${mix(0x93, 0x48)},${mix(0xa2, 0x4d)})`;
}

/** Stroke width by rate relative to the busiest edge (square root: areas, not lengths). */
export function edgeWidth(rate: number, max: number): number {
  if (!(rate > 0) || !(max > 0)) return 1.25;
  return 1.5 + 7 * Math.sqrt(rate / max);
}
