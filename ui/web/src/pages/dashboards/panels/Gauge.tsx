// Gauge: an arc per series from min to max (default 0–100), filled to the
// value in its threshold colour, with threshold markers around it.

import { thresholdColor } from "../model/fields";
import type { PanelProps } from "./types";
import { displayValues } from "./values";

const START = Math.PI * 0.75;
const SWEEP = Math.PI * 1.5;

function arc(cx: number, cy: number, r: number, a0: number, a1: number): string {
  const p = (a: number) => `${(cx + r * Math.cos(a)).toFixed(2)} ${(cy + r * Math.sin(a)).toFixed(2)}`;
  return `M ${p(a0)} A ${r} ${r} 0 ${a1 - a0 > Math.PI ? 1 : 0} 1 ${p(a1)}`;
}

export function GaugePanel({ panel, data, width, height }: PanelProps) {
  const values = displayValues(panel, data.series);
  const markers = panel.options.showThresholdMarkers !== false;
  const n = values.length;
  const cell = Math.min(width / n, height);
  return (
    <div class="dash-gauges" data-testid="panel-gauge">
      {values.map((v, i) => {
        const min = v.fc.min ?? 0;
        const max = v.fc.max ?? 100;
        const frac = v.value === null ? 0 : Math.min(1, Math.max(0, (v.value - min) / (max - min || 1)));
        const r = 40;
        return (
          <div key={i} class="dash-gauge" data-testid="gauge-value" data-value={v.value === null ? "" : String(v.value)} style={{ width: `${width / n}px` }}>
            <svg viewBox="0 0 100 92" style={{ width: `${cell}px`, height: `${cell * 0.92}px` }} role="img" aria-label={`${v.name} ${v.text}`}>
              <path d={arc(50, 50, r, START, START + SWEEP)} class="dash-gauge-track" stroke-width="10" fill="none" />
              {frac > 0 && <path d={arc(50, 50, r, START, START + SWEEP * frac)} stroke={v.color} stroke-width="10" fill="none" />}
              {markers &&
                v.fc.steps.map((s, k) => {
                  const next = v.fc.steps[k + 1];
                  const lo = Number.isFinite(s.value) ? s.value : min;
                  const hi = next ? next.value : max;
                  const f0 = Math.max(0, Math.min(1, (lo - min) / (max - min || 1)));
                  const f1 = Math.max(0, Math.min(1, (hi - min) / (max - min || 1)));
                  if (f1 <= f0) return null;
                  return <path key={k} d={arc(50, 50, r + 8, START + SWEEP * f0, START + SWEEP * f1)} stroke={thresholdColor(v.fc, lo)} stroke-width="3" fill="none" />;
                })}
              <text x="50" y="56" text-anchor="middle" class="dash-gauge-text" fill={v.color}>
                {v.text}
              </text>
            </svg>
            {n > 1 && <div class="dash-gauge-name">{v.name}</div>}
          </div>
        );
      })}
    </div>
  );
}
