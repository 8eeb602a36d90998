// The panel editor: the panel drawn live above its queries and visualisation
// options. Options redraw at once; query text runs on "Run queries" (or
// Shift+Enter in the PromQL editor, or leaving a field), as in /explore.
// Apply puts the panel into the dashboard being edited (one undo step).

import { useState } from "preact/hooks";
import { normalize, type Json } from "../model/grafana";
import type { Scope } from "../model/interpolate";
import { PanelFrame } from "../view/PanelFrame";
import { PanelOptions } from "./PanelOptions";
import { QueryEditor } from "./QueryEditor";

export interface PanelEditorProps {
  panel: Json;
  scope: Scope;
  range: { start: number; end: number };
  tick: number;
  dashboardTitle: string;
  onApply: (p: Json) => void;
  onClose: () => void;
}

export function PanelEditor({ panel, scope, range, tick, dashboardTitle, onApply, onClose }: PanelEditorProps) {
  const [local, setLocal] = useState<Json>(panel);
  const [shown, setShown] = useState<Json>(panel);
  const preview = normalize({ title: dashboardTitle, panels: [{ ...shown, gridPos: { x: 0, y: 0, w: 24, h: 9 } }] }).panels[0];
  const options = (p: Json) => {
    setLocal(p);
    // Options redraw now; the queries as they were last run.
    setShown({ ...p, targets: shown.targets, datasource: shown.datasource });
  };
  return (
    <div class="dash-editor-backdrop" role="dialog" aria-label="Edit panel" data-testid="panel-editor">
      <div class="dash-editor">
        <header class="dash-editor-head">
          <h2>Edit panel</h2>
          <span class="spacer" />
          <button type="button" class="btn" onClick={onClose} data-testid="panel-editor-cancel">
            Cancel
          </button>
          <button type="button" class="btn primary" onClick={() => onApply(local)} data-testid="panel-editor-apply">
            Apply
          </button>
        </header>
        <div class="dash-editor-preview" data-testid="panel-preview">
          {preview !== undefined && <PanelFrame panel={preview} scope={scope} range={range} tick={tick} dashboardTitle={dashboardTitle} onZoom={() => undefined} />}
        </div>
        <div class="dash-editor-body">
          <QueryEditor panel={local} ran={shown} onChange={setLocal} onRun={(p) => setShown(p ?? local)} />
          <PanelOptions panel={local} onChange={options} />
        </div>
      </div>
    </div>
  );
}
