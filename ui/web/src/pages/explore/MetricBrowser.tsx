// The metric browser, for people who do not know the metric names: every
// metric with its type and help (from /api/v1/metadata), filterable; pick
// one to query it.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { labelValues, metadata } from "../../api/prometheus";
import { ErrorState, Loading } from "../../components/States";
import { formatCount } from "../../lib/format";
import { useLoad } from "../../lib/load";

export function MetricBrowser({ onPick, onClose }: { onPick: (name: string) => void; onClose: () => void }) {
  const [filter, setFilter] = useState("");
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

  return (
    <div class="popover metric-browser" role="dialog" aria-label="Metric browser" data-testid="metric-browser">
      <div class="metric-browser-head">
        <input
          class="input"
          placeholder="Filter metric names…"
          ref={input}
          value={filter}
          onInput={(e) => setFilter(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Escape") onClose();
            if (e.key === "Enter" && rows[0] !== undefined) onPick(rows[0].name);
          }}
        />
        <span class="muted small">{names.data ? `${formatCount(rows.length)} of ${formatCount(names.data.length)}` : ""}</span>
      </div>
      {names.error !== null && <ErrorState compact message={names.error} />}
      {names.data === undefined && names.error === null && <Loading what="metrics" />}
      <ul class="metric-list">
        {rows.map((r) => (
          <li key={r.name}>
            <button type="button" onClick={() => onPick(r.name)} title={r.help || r.name}>
              <span class="metric-name mono">{r.name}</span>
              {r.type !== "" && <span class={`metric-type ${r.type}`}>{r.type}</span>}
              <span class="metric-help">{r.help}</span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
