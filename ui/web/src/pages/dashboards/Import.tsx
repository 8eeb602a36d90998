// Importing a Grafana dashboard: paste its JSON or pick the exported file; the
// dashboard is checked and what Osprey will not draw is listed, panel by
// panel, before it is saved. A uid that is taken can be imported as a copy.

import { useState } from "preact/hooks";
import { createDashboard } from "../../api/dashboards";
import { ApiError, describeError } from "../../api/http";
import { hrefTo, navigate } from "../../router";
import { normalize, unwrap, type Json } from "./model/grafana";
import { gaps, type Gap } from "./model/support";
import { GapList } from "./view/Toolbar";

interface Checked {
  json: Json;
  title: string;
  panels: number;
  variables: number;
  gaps: Gap[];
}

function check(text: string): Checked | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return `not JSON: ${e instanceof Error ? e.message : String(e)}`;
  }
  const json = unwrap(v);
  if (typeof json === "string") return json;
  const d = normalize(json);
  const panels = d.panels.reduce((n, p) => n + (p.type === "row" ? p.panels.length : 1), 0);
  return { json, title: d.title, panels, variables: d.variables.length, gaps: gaps(d, json) };
}

export function ImportDialog({ onClose }: { onClose: () => void }) {
  const [text, setText] = useState("");
  const [err, setErr] = useState<string | null>(null);
  const [taken, setTaken] = useState(false);
  const checked = text.trim() === "" ? null : check(text);

  const save = (asCopy: boolean) => {
    if (checked === null || typeof checked === "string") return;
    const d = { ...checked.json };
    if (asCopy) delete d.uid;
    setErr(null);
    createDashboard(d).then(
      (s) => navigate(hrefTo(`/d/${s.id}`)),
      (e: unknown) => {
        setTaken(e instanceof ApiError && e.status === 409);
        setErr(describeError(e));
      },
    );
  };

  return (
    <div class="dash-import" role="dialog" aria-label="Import a Grafana dashboard" data-testid="dash-import">
      <h3>Import a Grafana dashboard</h3>
      <p class="muted">Paste the JSON of a dashboard exported from Grafana (9 to 12), or pick the file.</p>
      <input
        type="file"
        accept="application/json,.json"
        data-testid="dash-import-file"
        onChange={(e) => {
          const f = e.currentTarget.files?.[0];
          if (f) void f.text().then(setText);
        }}
      />
      <textarea class="mono" rows={10} value={text} placeholder='{"title": "…", "panels": […]}' data-testid="dash-import-json" onInput={(e) => setText(e.currentTarget.value)} />
      {typeof checked === "string" && (
        <p class="dash-error" data-testid="dash-import-error">
          {checked}
        </p>
      )}
      {checked !== null && typeof checked !== "string" && (
        <div data-testid="dash-import-summary">
          <p>
            <strong>{checked.title}</strong>: {checked.panels} panels, {checked.variables} variables
            {checked.gaps.length === 0 ? "; everything is supported." : "."}
          </p>
          {checked.gaps.length > 0 && <GapList gaps={checked.gaps} />}
        </div>
      )}
      {err !== null && <p class="dash-error">{err}</p>}
      <div class="dash-import-actions">
        <button type="button" class="btn primary" disabled={checked === null || typeof checked === "string"} onClick={() => save(false)} data-testid="dash-import-save">
          Import
        </button>
        {taken && (
          <button type="button" class="btn" onClick={() => save(true)} data-testid="dash-import-copy">
            Import as a new dashboard
          </button>
        )}
        <button type="button" class="btn" onClick={onClose}>
          Cancel
        </button>
      </div>
    </div>
  );
}
