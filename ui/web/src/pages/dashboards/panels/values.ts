// The per-series values stat, gauge and bar gauge panels show: each series
// reduced with the panel's calculation, with its field config and colour.

import { calcOf, fieldConfig, mapValue, reduce, valueColor, type FieldConfig } from "../model/fields";
import type { Panel } from "../model/grafana";
import type { Series } from "../model/query";
import { formatUnit } from "../model/units";

export interface DisplayValue {
  name: string;
  value: number | null;
  text: string;
  color: string;
  fc: FieldConfig;
  series: Series | null;
}

export function displayValues(panel: Panel, series: Series[]): DisplayValue[] {
  const calc = calcOf(panel.options);
  const out = series.map((s, i) => {
    const fc = fieldConfig(panel.fieldConfig, { name: s.name, refId: s.refId }, "thresholds");
    const value = reduce(
      s.points.map(([, v]) => (Number.isFinite(v) ? v : null)),
      calc,
    );
    const name = fc.displayName !== "" ? fc.displayName.replace(/\$\{__series\.name\}/g, s.name) : s.name;
    const mapped = mapValue(fc, value);
    const text = mapped?.text ?? (value === null ? fc.noValue || "No data" : formatUnit(value, fc.unit, fc.decimals));
    return { name, value, text, color: mapped?.color ?? valueColor(fc, value, i), fc, series: s };
  });
  if (out.length === 0) {
    const fc = fieldConfig(panel.fieldConfig, { name: "", refId: "" }, "thresholds");
    return [{ name: "", value: null, text: fc.noValue || "No data", color: "var(--text-muted)", fc, series: null }];
  }
  return out;
}
