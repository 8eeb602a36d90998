// The metric browser, for people who do not know the metric names or PromQL:
// every metric with its type and help (from /api/v1/metadata), filterable;
// select one to see its labels and their values, click values to build a
// selector (`name{label="value"}`), and use it as the query.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { labelNames, labelValues, metadata } from "../../api/prometheus";
import { ErrorState, Loading } from "../../components/States";
import { formatCount } from "../../lib/format";
import { useLoad } from "../../lib/load";
import { toggled } from "../../lib/sets";

const VALUES_SHOWN = 40;

/** A PromQL string literal. */
const lit = (v: string) => JSON.stringify(v);

/** `name{a="x"}`; several values of one label become a regex `a=~"x|y"`. */
export function buildSelector(name: string, picked: Map<string, Set<string>>): string {
  const matchers = [...picked.entries()]
    .filter(([, vs]) => vs.size > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, vs]) => {
      const list = [...vs].sort();
      if (list.length === 1) return `${k}=${lit(list[0] ?? "")}`;
      return `${k}=~${lit(list.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"))}`;
    });
  return matchers.length === 0 ? name : `${name}{${matchers.join(", ")}}`;
}

function Labels({ name, onPick }: { name: string; onPick: (q: string) => void }) {
  const [picked, setPicked] = useState<Map<string, Set<string>>>(new Map());
  useEffect(() => setPicked(new Map()), [name]);
  const labels = useLoad(
    async (s) => {
      const match = [name];
      const names = (await labelNames(match, s)).filter((l) => l !== "__name__");
      const values = await Promise.all(names.map((l) => labelValues(l, match, s)));
      return names.map((l, i) => ({ label: l, values: values[i] ?? [] }));
    },
    [name],
    { label: "Could not load the metric's labels", resetOn: name },
  );
  const selector = buildSelector(name, picked);
  const toggle = (label: string, value: string) => {
    const next = new Map(picked);
    next.set(label, toggled(next.get(label) ?? new Set<string>(), value));
    setPicked(next);
  };
  return (
    <div class="metric-labels" data-testid="metric-labels">
      <div class="metric-selector">
        <code class="mono" data-testid="metric-selector">
          {selector}
        </code>
        <button type="button" class="btn primary small" data-testid="metric-use" onClick={() => onPick(selector)}>
          Use query
        </button>
      </div>
      {labels.error !== null && <ErrorState compact message={labels.error} />}
      {labels.data === undefined && labels.error === null && <Loading what="labels" />}
      {labels.data?.length === 0 && <p class="muted small metric-nolabels">No labels besides the name.</p>}
      {labels.data?.map(({ label, values }) => (
        <div class="metric-label" key={label} data-testid="metric-label" data-label={label}>
          <div class="metric-label-name">
            <span class="mono">{label}</span>
            <span class="faint small">{formatCount(values.length)} values</span>
          </div>
          <div class="metric-values">
            {values.slice(0, VALUES_SHOWN).map((v) => (
              <button
                type="button"
                key={v}
                class="value-chip mono"
                aria-pressed={picked.get(label)?.has(v) ?? false}
                data-testid="metric-value"
                title={`${label}=${lit(v)}`}
                onClick={() => toggle(label, v)}
              >
                {v === "" ? '""' : v}
              </button>
            ))}
            {values.length > VALUES_SHOWN && <span class="faint small">+{formatCount(values.length - VALUES_SHOWN)} more</span>}
          </div>
        </div>
      ))}
    </div>
  );
}

export function MetricBrowser({ onPick, onClose }: { onPick: (query: string) => void; onClose: () => void }) {
  const [filter, setFilter] = useState("");
  const [selected, setSelected] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const names = useLoad((s) => labelValues("__name__", [], s), [], { label: "Could not load metric names" });
  const meta = useLoad((s) => metadata({}, s), [], { label: "Could not load metric metadata" });

  const rows = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return (names.data ?? [])
      .filter((n) => f === "" || n.toLowerCase().includes(f))
      .map((n) => {
        // Histograms and summaries keep their metadata under the family name.
        const family = n.replace(/_(bucket|count|sum|total)$/, "");
        const m = meta.data?.[n]?.[0] ?? meta.data?.[family]?.[0];
        return { name: n, type: m?.type ?? "", help: m?.help ?? "", unit: m?.unit ?? "" };
      });
  }, [names.data, meta.data, filter]);
  const sel = rows.find((r) => r.name === selected);

  return (
    <div
      class={`popover metric-browser${selected !== null ? " with-labels" : ""}`}
      role="dialog"
      aria-label="Metric browser"
      data-testid="metric-browser"
      onKeyDown={(e) => {
        if (e.key === "Escape") onClose();
      }}
    >
      <div class="metric-browser-head">
        <input
          class="input"
          placeholder="Filter metric names…"
          ref={input}
          value={filter}
          onInput={(e) => setFilter(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && rows[0] !== undefined) onPick(rows[0].name);
          }}
        />
        <span class="muted small">{names.data ? `${formatCount(rows.length)} of ${formatCount(names.data.length)}` : ""}</span>
      </div>
      {names.error !== null && <ErrorState compact message={names.error} />}
      {names.data === undefined && names.error === null && <Loading what="metrics" />}
      <div class="metric-browser-body">
        <ul class="metric-list">
          {rows.map((r) => (
            <li key={r.name}>
              <button
                type="button"
                class={r.name === selected ? "selected" : undefined}
                onClick={() => setSelected(r.name)}
                onDblClick={() => onPick(r.name)}
                title={r.help || r.name}
                data-testid="metric-item"
                data-metric={r.name}
              >
                <span class="metric-name mono">{r.name}</span>
                {r.type !== "" && <span class={`metric-type ${r.type}`}>{r.type}</span>}
                <span class="metric-help">{r.help}</span>
              </button>
            </li>
          ))}
        </ul>
        {selected !== null && (
          <div class="metric-detail">
            <div class="metric-detail-head">
              <strong class="mono">{selected}</strong>
              {sel?.type && <span class={`metric-type ${sel.type}`}>{sel.type}</span>}
              {sel?.unit && <span class="faint small">unit: {sel.unit}</span>}
            </div>
            {sel?.help && <p class="muted small metric-detail-help">{sel.help}</p>}
            <Labels name={selected} onPick={onPick} />
          </div>
        )}
      </div>
      <div class="metric-browser-foot faint small">Click a metric for its labels and values · double-click or Enter to use it as the query</div>
    </div>
  );
}
