// `/trace/{traceID}`: the trace as a waterfall (real data from
// /api/traces/{id}): spans on the trace's time axis, subtrees collapsible, a
// search that highlights (or keeps only) matching spans, the critical path, and
// the selected span's details (`?span=` in the URL) beside it. `?view=flame`
// shows the same trace as a flame graph (Flame.tsx), `?view=table` as a
// sortable table of spans with their self time (SpanTable.tsx).

import { useEffect, useMemo, useState } from "preact/hooks";
import { trace as fetchTrace, services as fetchServices, type JaegerTrace } from "../../api/jaeger";
import { Icon } from "../../components/Icon";
import { Link } from "../../components/Link";
import { Busy, ErrorState, Loading } from "../../components/States";
import { plural } from "../../lib/format";
import { useLoad } from "../../lib/load";
import { useTimeRange } from "../../lib/refresh";
import { toggled } from "../../lib/sets";
import { formatUtc, toUrlTime } from "../../lib/time";
import { buildTree, criticalPath, formatMicros, parentID, selfTimes, serviceColor, setServiceUniverse, type SpanNode, type TraceTree } from "../../lib/trace";
import { updateParams, type PageProps } from "../../router";
import { Flame } from "./Flame";
import { SpanDetails } from "./SpanDetails";
import { SpanTable } from "./SpanTable";
import type { SpanFocus } from "./spanRows";
import { SpanSearch, ViewSwitch, viewOf, WaterfallControls, type View } from "./Toolbar";
import { Waterfall } from "./Waterfall";
import "./trace.css";

function visibleRows(tree: TraceTree, collapsed: ReadonlySet<SpanNode>, only: ReadonlySet<SpanNode> | null): SpanNode[] {
  if (only !== null) return tree.nodes.filter((n) => only.has(n));
  if (collapsed.size === 0) return tree.nodes;
  const out: SpanNode[] = [];
  const nodes = tree.nodes;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i] as SpanNode;
    out.push(n);
    if (collapsed.has(n)) i += n.descendants;
  }
  return out;
}

function Header({ tree, id }: { tree: TraceTree; id: string }) {
  const root = tree.roots.find((r) => parentID(r.span) === null) ?? tree.nodes[0];
  const logs = { q: `trace_id:${id}`, from: toUrlTime(tree.start / 1000 - 60_000), to: toUrlTime(tree.end / 1000 + 60_000) };
  return (
    <div class="trace-header">
      <div class="trace-title">
        <h1 data-testid="trace-title">
          <span class="swatch" style={{ background: serviceColor(root?.service ?? "") }} />
          {root !== undefined ? (
            <>
              {root.service}: <span class="trace-root-op">{root.span.operationName}</span>
            </>
          ) : (
            "Trace"
          )}
        </h1>
        <span class="mono faint trace-id" data-testid="trace-id">
          {id}
        </span>
        <span class="spacer" />
        <Link to="/logs" params={logs} class="btn" data-testid="trace-logs-link">
          <Icon name="logs" size={14} /> Logs for this trace
        </Link>
        <Link to="/traces" params={root !== undefined ? { service: root.service } : {}} class="btn ghost">
          Search {root?.service ?? "traces"}
        </Link>
      </div>
      <div class="trace-stats">
        <span>
          <span class="faint">Started</span> <span class="mono">{formatUtc(tree.start / 1000, true)} UTC</span>
        </span>
        <span>
          <span class="faint">Duration</span> <strong class="mono" data-testid="trace-duration">{formatMicros(tree.end - tree.start)}</strong>
        </span>
        <span>
          <span class="faint">Spans</span> <strong data-testid="trace-span-count">{tree.nodes.length.toLocaleString("en-US")}</strong>
        </span>
        <span>
          <span class="faint">Depth</span> <strong>{tree.maxDepth + 1}</strong>
        </span>
        {tree.errors > 0 && (
          <span class="badge error">
            <Icon name="alert" size={12} />
            {plural(tree.errors, "error")}
          </span>
        )}
        <span class="trace-services">
          {tree.services.map((s) => (
            <span key={s.name} class="svc-pill" title={plural(s.count, "span")}>
              <span class="swatch" style={{ background: serviceColor(s.name) }} />
              {s.name || "(unknown)"} <span class="faint">{s.count}</span>
            </span>
          ))}
        </span>
      </div>
    </div>
  );
}

function TraceView({ tree, processes, spanParam, view, sort }: { tree: TraceTree; processes: JaegerTrace["processes"]; spanParam: string | null; view: View; sort: string | null }) {
  const [collapsed, setCollapsed] = useState<Set<SpanNode>>(new Set());
  const [query, setQuery] = useState("");
  const [onlyMatches, setOnlyMatches] = useState(false);
  const [showCritical, setShowCritical] = useState(false);
  const [focus, setFocus] = useState<SpanFocus>(null);
  const [cursor, setCursor] = useState(-1);
  useEffect(() => setCollapsed(new Set()), [tree]);

  const byId = useMemo(() => new Map(tree.nodes.map((n) => [n.span.spanID, n])), [tree]);
  const selected = spanParam === null ? null : (byId.get(spanParam) ?? null);

  const q = query.trim().toLowerCase();
  const matches = useMemo(() => {
    if (q === "") return null;
    const out = new Set<SpanNode>();
    for (const n of tree.nodes) {
      if (n.span.operationName.toLowerCase().includes(q) || n.service.toLowerCase().includes(q) || n.span.spanID.startsWith(q)) out.add(n);
    }
    return out;
  }, [tree, q]);
  const matchList = useMemo(() => (matches === null ? [] : tree.nodes.filter((n) => matches.has(n))), [matches, tree]);
  useEffect(() => setCursor(-1), [q]);

  const critical = useMemo(() => (showCritical ? criticalPath(tree) : null), [tree, showCritical]);
  const self = useMemo(() => selfTimes(tree), [tree]);
  const rows = useMemo(() => visibleRows(tree, collapsed, onlyMatches ? matches : null), [tree, collapsed, onlyMatches, matches]);

  const select = (n: SpanNode | null) => updateParams({ span: n === null || n === selected ? null : n.span.spanID }, { replace: true });
  const reveal = (n: SpanNode) => {
    // Expand the collapsed ancestors so the row is in the list.
    let p = n.parent;
    let changed = false;
    const next = new Set(collapsed);
    while (p !== null) {
      if (next.delete(p)) changed = true;
      p = p.parent;
    }
    if (changed) setCollapsed(next);
    setFocus({ node: n, seq: (focus?.seq ?? 0) + 1 });
  };
  const step = (dir: 1 | -1) => {
    if (matchList.length === 0) return;
    const i = (cursor + dir + matchList.length) % matchList.length;
    setCursor(i);
    const n = matchList[i] as SpanNode;
    reveal(n);
    updateParams({ span: n.span.spanID }, { replace: true });
  };

  // A span from the URL (a pasted link) is revealed once.
  useEffect(() => {
    if (selected !== null) reveal(selected);
  }, [tree, spanParam === null]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && selected !== null && !(e.target instanceof HTMLInputElement)) select(null);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  return (
    <>
      <div class="wf-toolbar">
        <ViewSwitch view={view} />
        <SpanSearch
          query={query}
          onQuery={setQuery}
          onStep={step}
          count={matches?.size ?? null}
          cursor={cursor}
        />
        {view === "waterfall" ? (
          <WaterfallControls
            onlyMatches={onlyMatches}
            onOnlyMatches={setOnlyMatches}
            critical={showCritical}
            onCritical={setShowCritical}
            shown={rows.length}
            total={tree.nodes.length}
            onExpandAll={() => setCollapsed(new Set())}
            onCollapseAll={() => setCollapsed(new Set(tree.nodes.filter((n) => n.children.length > 0)))}
          />
        ) : (
          <>
            <span class="spacer" />
            <span class="faint small" data-testid="view-count">
              {view === "flame" ? "Click a span for its details, double-click to zoom" : matches !== null ? `${matchList.length.toLocaleString("en-US")} of ${plural(tree.nodes.length, "span")}` : plural(tree.nodes.length, "span")}
            </span>
          </>
        )}
      </div>
      <div class={`trace-body${selected !== null ? " with-details" : ""}`}>
        <div class="panel wf-panel">
          {view === "flame" ? (
            <Flame tree={tree} self={self} selected={selected} onSelect={(n) => select(n)} matches={matches} focus={focus} />
          ) : view === "table" ? (
            <SpanTable tree={tree} self={self} nodes={matches === null ? tree.nodes : matchList} sort={sort} selected={selected} onSelect={(n) => select(n)} focus={focus} />
          ) : (
            <Waterfall
              tree={tree}
              rows={rows}
              collapsed={collapsed}
              onToggle={(n) => setCollapsed(toggled(collapsed, n))}
              selected={selected}
              onSelect={(n) => select(n)}
              matches={matches}
              critical={critical}
              focus={focus}
            />
          )}
        </div>
        {selected !== null && (
          <SpanDetails
            key={selected.span.spanID}
            node={selected}
            tree={tree}
            processTags={processes[selected.span.processID]?.tags ?? []}
            onSelect={(sid) => {
              const n = byId.get(sid);
              if (n !== undefined) {
                reveal(n);
                updateParams({ span: sid }, { replace: true });
              }
            }}
            onClose={() => select(null)}
          />
        )}
      </div>
    </>
  );
}


export default function Trace({ params, loc }: PageProps) {
  const id = params.id ?? "";
  const range = useTimeRange();
  const t = useLoad((s) => fetchTrace(id, s), [id, range.tick], { label: "Could not load the trace", resetOn: id });
  const tree = useMemo(() => (t.data === undefined ? null : buildTree(t.data)), [t.data]);
  // Colours over every known service, as the search page assigns them.
  const svcs = useLoad((s) => fetchServices(s), [range.tick], { label: "Could not load services" });
  setServiceUniverse([...(svcs.data ?? []), ...(tree?.services.map((x) => x.name) ?? [])]);
  return (
    <div class="page trace-page" data-testid="trace-page">
      <Busy on={t.loading} />
      {t.error !== null && (
        <div class="trace-error">
          <ErrorState title={`Could not load trace ${id}`} message={t.error} />
          <p class="muted small">
            <Link to="/traces">Search traces</Link>
          </p>
        </div>
      )}
      {tree === null && t.error === null && <Loading what="trace" />}
      {tree !== null && t.data !== undefined && (
        <>
          <Header tree={tree} id={t.data.traceID || id} />
          <TraceView tree={tree} processes={t.data.processes} spanParam={loc.params.get("span")} view={viewOf(loc.params.get("view"))} sort={loc.params.get("sort")} />
        </>
      )}
    </div>
  );
}
