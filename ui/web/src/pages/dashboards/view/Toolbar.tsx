// The dashboard's toolbar: title and tags, what the import left out, export
// (the stored JSON, as imported), save a copy (how a built-in dashboard is
// changed), versions (restore one) and delete.

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { createDashboard, dashboardVersions, deleteDashboard, restoreVersion, type StoredDashboard } from "../../../api/dashboards";
import { describeError } from "../../../api/http";
import { useLoad } from "../../../lib/load";
import { formatUtc } from "../../../lib/time";
import { hrefTo, navigate } from "../../../router";
import type { Gap } from "../model/support";

function download(name: string, json: unknown): void {
  const blob = new Blob([JSON.stringify(json, null, 2)], { type: "application/json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function Versions({ stored, onRestored }: { stored: StoredDashboard; onRestored: () => void }) {
  const list = useLoad((s) => dashboardVersions(stored.id, s), [stored.id, stored.version], { label: "Could not load the versions" });
  const [err, setErr] = useState<string | null>(null);
  return (
    <div class="dash-drawer" data-testid="dash-versions">
      <h4>Versions</h4>
      {list.error !== null && <p class="dash-error">{list.error}</p>}
      {err !== null && <p class="dash-error">{err}</p>}
      <ol>
        {(list.data ?? []).map((v) => (
          <li key={v.version} data-testid="dash-version">
            <span class="mono">v{v.version}</span> <span class="muted">{formatUtc(Date.parse(v.updated))}</span> {v.title}
            {v.version === stored.version ? (
              <span class="dash-badge">current</span>
            ) : (
              <button
                type="button"
                class="btn small"
                data-testid="dash-restore"
                onClick={() => {
                  setErr(null);
                  restoreVersion(stored.id, v.version).then(onRestored, (e: unknown) => setErr(describeError(e)));
                }}
              >
                Restore
              </button>
            )}
          </li>
        ))}
      </ol>
    </div>
  );
}

export function Toolbar({ stored, gaps, onChanged, children }: { stored: StoredDashboard; gaps: Gap[]; onChanged: () => void; children?: ComponentChildren }) {
  const [drawer, setDrawer] = useState<"versions" | "gaps" | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const copy = () => {
    const d: Record<string, unknown> = { ...stored.dashboard, title: `${stored.title} (copy)` };
    delete d.uid;
    delete d.id;
    createDashboard(d).then((s) => navigate(hrefTo(`/d/${s.id}`)), (e: unknown) => setErr(describeError(e)));
  };
  const remove = () => {
    if (!window.confirm(`Delete "${stored.title}" and its versions?`)) return;
    deleteDashboard(stored.id).then(() => navigate(hrefTo("/dashboards")), (e: unknown) => setErr(describeError(e)));
  };
  return (
    <div class="dash-toolbar">
      <div class="dash-titlebar">
        <h1 data-testid="dash-title">{stored.title}</h1>
        {stored.builtin && (
          <span class="dash-badge" title="Shipped with Osprey: save a copy to change it">
            built-in
          </span>
        )}
        {stored.tags.map((t) => (
          <span key={t} class="dash-tag">
            {t}
          </span>
        ))}
        <span class="muted mono" data-testid="dash-version-current">
          v{stored.version}
        </span>
      </div>
      <div class="dash-actions">
        {children}
        {gaps.length > 0 && (
          <button type="button" class="btn warn" data-testid="dash-gaps-toggle" onClick={() => setDrawer(drawer === "gaps" ? null : "gaps")}>
            {gaps.length} not supported
          </button>
        )}
        <button type="button" class="btn" data-testid="dash-export" onClick={() => download(`${stored.title.replace(/[^\w.-]+/g, "_")}.json`, stored.dashboard)}>
          Export JSON
        </button>
        <button type="button" class="btn" data-testid="dash-copy" onClick={copy}>
          Save a copy
        </button>
        {!stored.builtin && (
          <>
            <button type="button" class="btn" data-testid="dash-versions-toggle" onClick={() => setDrawer(drawer === "versions" ? null : "versions")}>
              Versions
            </button>
            <button type="button" class="btn danger" data-testid="dash-delete" onClick={remove}>
              Delete
            </button>
          </>
        )}
      </div>
      {err !== null && <p class="dash-error">{err}</p>}
      {drawer === "versions" && (
        <Versions
          stored={stored}
          onRestored={() => {
            setDrawer(null);
            onChanged();
          }}
        />
      )}
      {drawer === "gaps" && <GapList gaps={gaps} />}
    </div>
  );
}

export function GapList({ gaps }: { gaps: Gap[] }) {
  return (
    <div class="dash-drawer" data-testid="dash-gaps">
      <h4>Not supported by Osprey</h4>
      <ul>
        {gaps.map((g, i) => (
          <li key={i} data-testid="dash-gap">
            <strong>{g.where}</strong>: {g.what}
          </li>
        ))}
      </ul>
    </div>
  );
}
