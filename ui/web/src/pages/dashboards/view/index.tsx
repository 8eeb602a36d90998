// `/d/{id}`: one dashboard drawn from its Grafana JSON. The time range, the
// refresh and the variables live in the URL (`from`, `to`, `refresh`,
// `var-<name>`), so a link reproduces what was seen; a dashboard opened
// without them starts from its own saved time and refresh.

import { useEffect, useMemo, useState } from "preact/hooks";
import { getDashboard } from "../../../api/dashboards";
import { ErrorState, Loading } from "../../../components/States";
import { setRange } from "../../../components/TimePicker";
import { useLoad } from "../../../lib/load";
import { useTimeRange } from "../../../lib/refresh";
import { toUrlTime } from "../../../lib/time";
import { updateParams, type PageProps } from "../../../router";
import { normalize } from "../model/grafana";
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
  const d = useMemo(() => (stored.data ? normalize(stored.data.dashboard) : null), [stored.data]);
  const missing = useMemo(() => (d && stored.data ? gaps(d, stored.data.dashboard) : []), [d]);
  const range = useTimeRange();
  const res = range.resolved ?? { start: Date.now() - 3_600_000, end: Date.now() };
  const [collapsed, setCollapsed] = useState<Map<string, boolean>>(new Map());

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

  const vars = useVariables(d?.variables ?? [], loc.params, res, `${id}:${stored.data?.version ?? 0}`);
  const sections = useMemo(() => (d && vars.resolved ? layout(d.panels, vars.scope, collapsed) : []), [d, vars, collapsed]);

  if (stored.error !== null && stored.data === undefined) return <ErrorState title="Could not load the dashboard" message={stored.error} />;
  if (stored.data === undefined || d === null) return <Loading what="the dashboard" />;
  return (
    <div class="page dashboard" data-testid="dashboard">
      <div class="page-scroll">
      <Toolbar stored={stored.data} gaps={missing} onChanged={() => setReload(reload + 1)} />
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
        />
      )}
      </div>
    </div>
  );
}
