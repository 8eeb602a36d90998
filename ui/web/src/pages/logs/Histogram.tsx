// Log volume over the range, stacked by severity; drag to zoom the range.

import { useMemo, useState } from "preact/hooks";
import type { Histogram } from "../../api/logs";
import { TimeChart, type ChartSeries } from "../../components/TimeChart";
import { formatCompact, formatCount, LEVELS } from "../../lib/format";
import { formatDuration, formatUtc, toUrlTime } from "../../lib/time";
import { setRange } from "../../components/TimePicker";
import { toggled } from "../../lib/sets";

const LABEL: Record<string, string> = {
  unset: "unset",
  trace: "trace",
  debug: "debug",
  info: "info",
  warn: "warn",
  error: "error",
  fatal: "fatal",
};

export function VolumeHistogram({ data, range }: { data: Histogram | undefined; range: { start: number; end: number } }) {
  const [hover, setHover] = useState<number | null>(null);
  const [hidden, setHidden] = useState<Set<number>>(new Set());

  const { x, series, totals } = useMemo(() => {
    const buckets = data?.buckets ?? [];
    const x = buckets.map((b) => b.start / 1000);
    const totals = LEVELS.map((lv) => buckets.reduce((n, b) => n + (b.by[lv] ?? 0), 0));
    const series: ChartSeries[] = LEVELS.map((lv) => ({
      label: lv,
      color: `var(--sev-${lv}-fill)`,
      values: buckets.map((b) => b.by[lv] ?? 0),
    }));
    return { x, series, totals };
  }, [data]);

  const bucket = hover !== null ? data?.buckets[hover] : undefined;

  return (
    <div class="volume" data-testid="log-volume">
      <div class="volume-head">
        <h2>Log volume</h2>
        <div class="volume-legend">
          {LEVELS.map((lv, i) => {
            const n = bucket ? (bucket.by[lv] ?? 0) : (totals[i] ?? 0);
            if ((totals[i] ?? 0) === 0) return null;
            const off = hidden.has(i);
            return (
              <button
                key={lv}
                type="button"
                class={`legend-chip${off ? " off" : ""}`}
                title={off ? `Show ${lv}` : `Hide ${lv}`}
                onClick={() => setHidden(toggled(hidden, i))}
              >
                <span class="swatch" style={{ background: `var(--sev-${lv}-fill)` }} />
                <span>{LABEL[lv]}</span>
                <span class="legend-value">{formatCount(n)}</span>
              </button>
            );
          })}
        </div>
        <span class="spacer" />
        <span class="muted small volume-meta">
          {bucket
            ? `${formatUtc(bucket.start)} · ${formatCount(bucket.count)} lines`
            : data
              ? `${formatCount(data.matched)} lines · ${formatDuration(data.stepMs)} buckets · drag to zoom`
              : ""}
        </span>
      </div>
      <TimeChart
        x={x}
        series={series}
        kind="bars"
        stacked
        hidden={hidden}
        height={118}
        range={range}
        yFormat={(v) => (Number.isInteger(v) ? formatCompact(v) : "")}
        onHover={setHover}
        onZoom={(a, b) => setRange({ from: toUrlTime(a), to: toUrlTime(b) })}
        testId="log-volume-chart"
      />
    </div>
  );
}
