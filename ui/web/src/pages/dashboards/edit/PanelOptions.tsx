// A panel's visualisation in the panel editor: type, title and description,
// unit, min/max, decimals, colour mode, thresholds, and the options of the
// type (draw style, fill and stacking; stat colour and graph; reduction; text).

import { isObj, numOf, strOf, type Json } from "../model/grafana";
import { PANEL_TYPES } from "../model/support";

const UNITS = ["short", "none", "percent", "percentunit", "bytes", "decbytes", "bits", "Bps", "bps", "s", "ms", "µs", "ns", "reqps", "ops", "cps", "iops", "hertz", "celsius", "currencyUSD", "bool"];
const CALCS = ["lastNotNull", "last", "mean", "max", "min", "sum", "count", "first", "range", "delta", "diff", "median"];

function defaultsOf(p: Json): Json {
  const fc = isObj(p.fieldConfig) ? p.fieldConfig : {};
  return isObj(fc.defaults) ? fc.defaults : {};
}

function withDefaults(p: Json, patch: Json): Json {
  const fc = isObj(p.fieldConfig) ? p.fieldConfig : {};
  return { ...p, fieldConfig: { overrides: [], ...fc, defaults: { ...defaultsOf(p), ...patch } } };
}

function withCustom(p: Json, patch: Json): Json {
  const d = defaultsOf(p);
  return withDefaults(p, { custom: { ...(isObj(d.custom) ? d.custom : {}), ...patch } });
}

function withOptions(p: Json, patch: Json): Json {
  return { ...p, options: { ...(isObj(p.options) ? p.options : {}), ...patch } };
}

const num = (s: string): number | undefined => (s.trim() === "" || !Number.isFinite(Number(s)) ? undefined : Number(s));

function Thresholds({ panel, onChange }: { panel: Json; onChange: (p: Json) => void }) {
  const d = defaultsOf(panel);
  const t = isObj(d.thresholds) ? d.thresholds : { mode: "absolute", steps: [{ color: "green", value: null }] };
  const steps = Array.isArray(t.steps) ? t.steps.filter(isObj) : [];
  const set = (next: Json[]) => onChange(withDefaults(panel, { thresholds: { ...t, steps: next } }));
  return (
    <fieldset class="dash-thresholds" data-testid="panel-thresholds">
      <legend>Thresholds</legend>
      {steps.map((s, i) => (
        <div key={i} class="dash-threshold">
          <input class="input" value={strOf(s.color)} aria-label="colour" onChange={(e) => set(steps.map((x, k) => (k === i ? { ...x, color: e.currentTarget.value } : x)))} />
          {i === 0 ? (
            <span class="muted">base</span>
          ) : (
            <input class="input" type="number" value={String(numOf(s.value) ?? "")} aria-label="from value" data-testid="threshold-value" onChange={(e) => set(steps.map((x, k) => (k === i ? { ...x, value: num(e.currentTarget.value) ?? 0 } : x)))} />
          )}
          {i > 0 && (
            <button type="button" class="btn small" onClick={() => set(steps.filter((_, k) => k !== i))}>
              ×
            </button>
          )}
        </div>
      ))}
      <button
        type="button"
        class="btn small"
        data-testid="threshold-add"
        onClick={() => set([...steps, { color: "red", value: (numOf(steps[steps.length - 1]?.value) ?? 0) + 10 }])}
      >
        Add threshold
      </button>
    </fieldset>
  );
}

function TypeOptions({ panel, onChange }: { panel: Json; onChange: (p: Json) => void }) {
  const d = defaultsOf(panel);
  const custom = isObj(d.custom) ? d.custom : {};
  const o = isObj(panel.options) ? panel.options : {};
  const type = strOf(panel.type);
  if (type === "timeseries") {
    const stacking = isObj(custom.stacking) ? strOf(custom.stacking.mode, "none") : "none";
    return (
      <>
        <label class="dash-field">
          <span>Style</span>
          <select value={strOf(custom.drawStyle, "line")} data-testid="panel-draw" onChange={(e) => onChange(withCustom(panel, { drawStyle: e.currentTarget.value }))}>
            <option value="line">Lines</option>
            <option value="bars">Bars</option>
            <option value="points">Points</option>
          </select>
        </label>
        <label class="dash-field">
          <span>Fill opacity</span>
          <input class="input" type="number" min={0} max={100} value={String(numOf(custom.fillOpacity) ?? 0)} onChange={(e) => onChange(withCustom(panel, { fillOpacity: num(e.currentTarget.value) ?? 0 }))} />
        </label>
        <label class="dash-field">
          <span>Stacking</span>
          <select value={stacking} onChange={(e) => onChange(withCustom(panel, { stacking: { mode: e.currentTarget.value, group: "A" } }))}>
            <option value="none">Off</option>
            <option value="normal">Normal</option>
            <option value="percent">100%</option>
          </select>
        </label>
      </>
    );
  }
  if (type === "text") {
    return (
      <label class="dash-field column">
        <span>Content (markdown)</span>
        <textarea class="mono" rows={6} value={strOf(o.content)} onInput={(e) => onChange(withOptions(panel, { mode: "markdown", content: e.currentTarget.value }))} />
      </label>
    );
  }
  if (type === "stat" || type === "gauge" || type === "bargauge") {
    const calcs = isObj(o.reduceOptions) && Array.isArray(o.reduceOptions.calcs) ? strOf(o.reduceOptions.calcs[0], "lastNotNull") : "lastNotNull";
    return (
      <>
        <label class="dash-field">
          <span>Value</span>
          <select value={calcs} onChange={(e) => onChange(withOptions(panel, { reduceOptions: { values: false, fields: "", calcs: [e.currentTarget.value] } }))}>
            {CALCS.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        {type === "stat" && (
          <label class="dash-field">
            <span>Colour</span>
            <select value={strOf(o.colorMode, "value")} onChange={(e) => onChange(withOptions(panel, { colorMode: e.currentTarget.value }))}>
              <option value="value">Value</option>
              <option value="background">Background</option>
              <option value="none">None</option>
            </select>
          </label>
        )}
      </>
    );
  }
  return null;
}

export function PanelOptions({ panel, onChange }: { panel: Json; onChange: (p: Json) => void }) {
  const d = defaultsOf(panel);
  const color = isObj(d.color) ? d.color : {};
  return (
    <div class="dash-options" data-testid="panel-options">
      <label class="dash-field">
        <span>Title</span>
        <input class="input" value={strOf(panel.title)} data-testid="panel-title-input" onInput={(e) => onChange({ ...panel, title: e.currentTarget.value })} />
      </label>
      <label class="dash-field">
        <span>Type</span>
        <select value={strOf(panel.type)} data-testid="panel-type" onChange={(e) => onChange({ ...panel, type: e.currentTarget.value })}>
          {[...PANEL_TYPES]
            .filter((t) => t !== "row" && t !== "traces")
            .map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
        </select>
      </label>
      <label class="dash-field">
        <span>Description</span>
        <input class="input" value={strOf(panel.description)} onInput={(e) => onChange({ ...panel, description: e.currentTarget.value })} />
      </label>
      <TypeOptions panel={panel} onChange={onChange} />
      <label class="dash-field">
        <span>Unit</span>
        <input class="input" list="dash-units" value={strOf(d.unit)} data-testid="panel-unit" onChange={(e) => onChange(withDefaults(panel, { unit: e.currentTarget.value }))} />
        <datalist id="dash-units">
          {UNITS.map((u) => (
            <option key={u} value={u} />
          ))}
        </datalist>
      </label>
      <div class="dash-field-row">
        {(["min", "max", "decimals"] as const).map((k) => (
          <label key={k} class="dash-field">
            <span>{k}</span>
            <input class="input" type="number" value={String(numOf(d[k]) ?? "")} data-testid={`panel-${k}`} onChange={(e) => onChange(withDefaults(panel, { [k]: num(e.currentTarget.value) }))} />
          </label>
        ))}
      </div>
      <label class="dash-field">
        <span>Colours</span>
        <select value={strOf(color.mode, "palette-classic")} onChange={(e) => onChange(withDefaults(panel, { color: { ...color, mode: e.currentTarget.value } }))}>
          <option value="palette-classic">Palette</option>
          <option value="thresholds">From thresholds</option>
          <option value="fixed">Fixed</option>
        </select>
      </label>
      <Thresholds panel={panel} onChange={onChange} />
    </div>
  );
}
