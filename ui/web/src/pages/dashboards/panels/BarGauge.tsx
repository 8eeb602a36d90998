// Bar gauge: a bar per series filled to its value between min and max, in its
// threshold colour (gradient, lcd cells or basic), horizontal or vertical.

import { strOf } from "../model/grafana";
import type { PanelProps } from "./types";
import { displayValues } from "./values";

export function BarGaugePanel({ panel, data }: PanelProps) {
  const values = displayValues(panel, data.series);
  const vertical = strOf(panel.options.orientation, "auto") === "vertical";
  const mode = strOf(panel.options.displayMode, "gradient");
  const unfilled = panel.options.showUnfilled !== false;
  return (
    <div class={`dash-bargauge${vertical ? " vertical" : ""}`} data-testid="panel-bargauge">
      {values.map((v, i) => {
        const min = v.fc.min ?? 0;
        const max = v.fc.max ?? 100;
        const frac = v.value === null ? 0 : Math.min(1, Math.max(0, (v.value - min) / (max - min || 1)));
        const fill = mode === "gradient" ? `linear-gradient(90deg, ${v.fc.steps[0]?.color ?? v.color}, ${v.color})` : v.color;
        return (
          <div key={i} class="dash-bar-row" data-testid="bargauge-value" data-value={v.value === null ? "" : String(v.value)}>
            <div class="dash-bar-name" title={v.name}>
              {v.name}
            </div>
            <div class={`dash-bar-track${unfilled ? "" : " bare"}${mode === "lcd" ? " lcd" : ""}`}>
              <div class="dash-bar-fill" style={{ width: `${frac * 100}%`, background: fill }} />
            </div>
            <div class="dash-bar-text" style={{ color: v.color }}>
              {v.text}
            </div>
          </div>
        );
      })}
    </div>
  );
}
