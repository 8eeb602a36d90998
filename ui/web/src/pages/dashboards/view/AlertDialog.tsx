// An alerting rule from a panel's query: the query (variables substituted, as
// the panel sent it), a condition and threshold, how long it must hold, a
// severity and summary. Saved as a rule group of the tenant (namespace
// `dashboards`, one group per alert) through the ruler API, then it is
// evaluated like any rule file's and shows in /alerts.

import { useState } from "preact/hooks";
import { saveRuleGroup } from "../../../api/alerts";
import { describeError } from "../../../api/http";
import { Link } from "../../../components/Link";

/** An alert name from a panel title: `Error ratio by service` → `ErrorRatioByService`. */
export function alertName(title: string): string {
  const words = title.replace(/[^A-Za-z0-9]+/g, " ").trim().split(" ").filter((w) => w !== "");
  const name = words.map((w) => (w[0] ?? "").toUpperCase() + w.slice(1)).join("");
  return /^[A-Za-z_]/.test(name) ? name : `Panel${name}`;
}

export function AlertDialog({ title, expr, dashboard, onClose }: { title: string; expr: string; dashboard: string; onClose: () => void }) {
  const [name, setName] = useState(alertName(title));
  const [op, setOp] = useState(">");
  const [threshold, setThreshold] = useState("0");
  const [hold, setHold] = useState("5m");
  const [severity, setSeverity] = useState("warning");
  const [summary, setSummary] = useState(`${title}: {{ $value }}`);
  const [state, setState] = useState<"editing" | "saving" | "saved">("editing");
  const [err, setErr] = useState<string | null>(null);
  const rule = `(${expr}) ${op} ${threshold}`;
  const save = () => {
    setState("saving");
    setErr(null);
    saveRuleGroup("dashboards", {
      name,
      rules: [{ alert: name, expr: rule, for: hold, labels: { severity }, annotations: { summary, dashboard } }],
    }).then(
      () => setState("saved"),
      (e: unknown) => {
        setState("editing");
        setErr(describeError(e));
      },
    );
  };
  return (
    <div class="dash-editor-backdrop" role="dialog" aria-label="Create an alerting rule" data-testid="alert-dialog">
      <div class="dash-editor narrow">
        <header class="dash-editor-head">
          <h2>Alert on “{title}”</h2>
          <span class="spacer" />
          <button type="button" class="btn" onClick={onClose}>
            Close
          </button>
          {state !== "saved" && (
            <button type="button" class="btn primary" disabled={state === "saving"} onClick={save} data-testid="alert-save">
              Create rule
            </button>
          )}
        </header>
        <label class="dash-field">
          <span>Name</span>
          <input class="input" value={name} data-testid="alert-name" onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <div class="dash-field-row">
          <label class="dash-field">
            <span>When</span>
            <select value={op} data-testid="alert-op" onChange={(e) => setOp(e.currentTarget.value)}>
              <option value=">">is above</option>
              <option value="<">is below</option>
            </select>
          </label>
          <input class="input" type="number" value={threshold} data-testid="alert-threshold" onInput={(e) => setThreshold(e.currentTarget.value)} />
          <label class="dash-field">
            <span>for</span>
            <input class="input" value={hold} data-testid="alert-for" onInput={(e) => setHold(e.currentTarget.value)} />
          </label>
          <label class="dash-field">
            <span>Severity</span>
            <select value={severity} onChange={(e) => setSeverity(e.currentTarget.value)}>
              <option value="warning">warning</option>
              <option value="page">page</option>
              <option value="info">info</option>
            </select>
          </label>
        </div>
        <label class="dash-field">
          <span>Summary</span>
          <input class="input" value={summary} onInput={(e) => setSummary(e.currentTarget.value)} />
        </label>
        <pre class="dash-rule mono" data-testid="alert-expr">{rule}</pre>
        {err !== null && <p class="dash-error" data-testid="alert-error">{err}</p>}
        {state === "saved" && (
          <p data-testid="alert-saved">
            Rule {name} created (namespace “dashboards”). <Link to="/alerts" params={{ tab: "rules" }}>See it in Alerts</Link>
          </p>
        )}
      </div>
    </div>
  );
}
