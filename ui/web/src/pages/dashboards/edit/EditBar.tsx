// The edit bar: start editing (not a built-in dashboard: save a copy first),
// add a panel, variables, undo, save (optionally with the picker's time range
// and refresh as the dashboard's own) or discard. A save made from a version
// someone else has replaced since is refused (409) and says so.

import { useState } from "preact/hooks";
import "./edit.css";

export interface EditBarProps {
  editing: boolean;
  builtin: boolean;
  canUndo: boolean;
  error: string | null;
  onStart: () => void;
  onAddPanel: () => void;
  onVariables: () => void;
  onUndo: () => void;
  onSave: (withTime: boolean) => void;
  onDiscard: () => void;
}

export function EditBar(p: EditBarProps) {
  const [withTime, setWithTime] = useState(false);
  if (!p.editing) {
    return p.builtin ? null : (
      <button type="button" class="btn" data-testid="dash-edit" onClick={p.onStart}>
        Edit
      </button>
    );
  }
  return (
    <div class="dash-editbar" data-testid="dash-editbar">
      <button type="button" class="btn" data-testid="dash-add-panel" onClick={p.onAddPanel}>
        Add panel
      </button>
      <button type="button" class="btn" data-testid="dash-variables" onClick={p.onVariables}>
        Variables
      </button>
      <button type="button" class="btn" data-testid="dash-undo" disabled={!p.canUndo} onClick={p.onUndo} title="Undo (Ctrl+Z)">
        Undo
      </button>
      <label class="dash-savetime">
        <input type="checkbox" checked={withTime} data-testid="dash-save-time" onChange={(e) => setWithTime(e.currentTarget.checked)} /> save the time range and refresh
      </label>
      <button type="button" class="btn primary" data-testid="dash-save" onClick={() => p.onSave(withTime)}>
        Save
      </button>
      <button type="button" class="btn" data-testid="dash-discard" onClick={p.onDiscard}>
        Discard
      </button>
      {p.error !== null && (
        <span class="dash-error" data-testid="dash-save-error">
          {p.error}
        </span>
      )}
    </div>
  );
}
