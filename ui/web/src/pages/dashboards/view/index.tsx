// `/d/{id}`: one dashboard drawn from its Grafana JSON. The time range, the
// refresh and the variables live in the URL (`from`, `to`, `refresh`,
// `var-<name>`), so a link reproduces what was seen; a dashboard opened
// without them starts from its own saved time and refresh. Edit mode works on
// a copy of the JSON (drawn live, with undo) that Save stores as a new version.

import { useEffect, useMemo, useState } from "preact/hooks";
import { getDashboard, updateDashboard } from "../../../api/dashboards";
import { describeError } from "../../../api/http";
import { ErrorState, Loading } from "../../../components/States";
import { setRange } from "../../../components/TimePicker";
import { useLoad } from "../../../lib/load";
import { useTimeRange } from "../../../lib/refresh";
import { toUrlTime } from "../../../lib/time";
import { updateParams, type PageProps } from "../../../router";
import { EditBar } from "../edit/EditBar";
import { addPanel, findPanel, moveBy, newPanel, nextId, removePanel, setTime, setVariables, updatePanel } from "../edit/ops";
import { PanelEditor } from "../edit/PanelEditor";
import { useDraft } from "../edit/useDraft";
import { VariablesEditor } from "../edit/VariablesEditor";
import { normalize, type Json } from "../model/grafana";
import { layout } from "../model/layout";
import { gaps } from "../model/support";
import "../dashboards.css";
import { Grid } from "./Grid";
import { Toolbar } from "./Toolbar";
import { useVariables } from "./useVariables";
import { VariablesBar } from "./Variables";

export default function DashboardView({ params, loc }: PageProps) {
  const id = params.id ?? "";
  const [reload, setReload] = useState(0);
  const stored = useLoad((s) => getDashboard(id, s), [id, reload], { label: "Could not load the dashboard", resetOn: id });
  const draft = useDraft();
  const json: Json | null = draft.json ?? stored.data?.dashboard ?? null;
  const d = useMemo(() => (json ? normalize(json) : null), [json]);
  const missing = useMemo(() => (d && json ? gaps(d, json) : []), [d]);
  const range = useTimeRange();
  const res = range.resolved ?? { start: Date.now() - 3_600_000, end: Date.now() };
  const [collapsed, setCollapsed] = useState<Map<string, boolean>>(new Map());
  const [editing, setEditing] = useState<number | "variables" | null>(null);
  const [saveError, setSaveError] = useState<string | null>(null);

  // First open without a range or refresh in the URL: the dashboard's own.
  useEffect(() => {
    if (d === null) return;
    const p = new URLSearchParams(window.location.search);
    const patch: Record<string, string> = {};
    if (!p.has("from") && !p.has("to")) {
      patch.from = d.time.from;
      patch.to = d.time.to;
    }
    if (!p.has("refresh") && d.refresh !== "") patch.refresh = d.refresh;
    if (Object.keys(patch).length > 0) updateParams(patch, { replace: true });
  }, [d?.uid]);

  const varKey = `${id}:${stored.data?.version ?? 0}:${JSON.stringify(d?.variables ?? [])}`;
  const vars = useVariables(d?.variables ?? [], loc.params, res, varKey);
  const sections = useMemo(() => (d && vars.resolved ? layout(d.panels, vars.scope, collapsed) : []), [d, vars, collapsed]);

  if (stored.error !== null && stored.data === undefined) return <ErrorState title="Could not load the dashboard" message={stored.error} />;
  if (stored.data === undefined || d === null || json === null) return <Loading what="the dashboard" />;
  const cur = stored.data;
  const save = (withTime: boolean) => {
    const p = new URLSearchParams(window.location.search);
    const body = withTime ? setTime(json, range.params.from, range.params.to, p.get("refresh") ?? "") : json;
    setSaveError(null);
    updateDashboard(cur.id, cur.version, body).then(
      () => {
        draft.stop();
        setReload(reload + 1);
      },
      (e: unknown) => setSaveError(describeError(e)),
    );
  };
  const editedPanel = typeof editing === "number" ? findPanel(json, editing) : null;
  return (
    <div class="page dashboard" data-testid="dashboard" data-editing={draft.json !== null}>
      <div class="page-scroll">
        <Toolbar stored={cur} gaps={missing} onChanged={() => setReload(reload + 1)}>
          <EditBar
            editing={draft.json !== null}
            builtin={cur.builtin}
            canUndo={draft.canUndo}
            error={saveError}
            onStart={() => draft.start(cur.dashboard)}
            onAddPanel={() => {
              const pid = nextId(json);
              draft.apply((x) => addPanel(x, newPanel(pid)));
              setEditing(pid);
            }}
            onVariables={() => setEditing("variables")}
            onUndo={draft.undo}
            onSave={save}
            onDiscard={() => {
              draft.stop();
              setSaveError(null);
            }}
          />
        </Toolbar>
        {vars.resolved !== null && <VariablesBar resolved={vars.resolved} />}
        {range.error !== null && <ErrorState compact message={range.error} />}
        {vars.resolved === null ? (
          <Loading what="the variables" />
        ) : (
          <Grid
            sections={sections}
            range={res}
            tick={range.tick}
            dashboardTitle={d.title}
            onZoom={(start, end) => setRange({ from: toUrlTime(start), to: toUrlTime(end) })}
            onToggleRow={(key, c) => setCollapsed(new Map(collapsed).set(key, c))}
            edit={
              draft.json === null
                ? undefined
                : {
                    moveBy: (pid, delta) => draft.apply((x) => moveBy(x, pid, delta)),
                    edit: (pid) => setEditing(pid),
                    remove: (pid) => draft.apply((x) => removePanel(x, pid)),
                  }
            }
          />
        )}
      </div>
      {editedPanel !== null && typeof editing === "number" && (
        <PanelEditor
          panel={editedPanel}
          scope={vars.scope}
          range={res}
          tick={range.tick}
          dashboardTitle={d.title}
          onApply={(p) => {
            draft.apply((x) => updatePanel(x, editing, () => p));
            setEditing(null);
          }}
          onClose={() => setEditing(null)}
        />
      )}
      {editing === "variables" && (
        <VariablesEditor
          list={d.variables}
          onApply={(l) => {
            draft.apply((x) => setVariables(x, l));
            setEditing(null);
          }}
          onClose={() => setEditing(null)}
        />
      )}
    </div>
  );
}
