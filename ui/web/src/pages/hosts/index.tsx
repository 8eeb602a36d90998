// `/hosts`: USE per host (CPU, load, memory, disk, filesystem, network, errors)
// from node_exporter or OTLP hostmetrics series, over the picker's range ending
// at its end, sortable, each value with a sparkline over the range; a row opens
// `/hosts/{instance}`.

import { useMemo } from "preact/hooks";
import { Icon } from "../../components/Icon";
import { Link } from "../../components/Link";
import { Busy, Empty, ErrorState, Loading } from "../../components/States";
import { plural } from "../../lib/format";
import { formatDuration } from "../../lib/time";
import { updateParams, type PageProps } from "../../router";
import { HostsTable } from "./HostsTable";
import { NoHostMetrics, useHostsData } from "./shared";
import { COLUMNS, SOURCE_LABEL, useQuery } from "./use";
import "../services/services.css";
import "./hosts.css";

export default function Hosts({ loc }: PageProps) {
  const all = COLUMNS.map((c) => c.key);
  const { range, res, window, sources, hosts, spark } = useHostsData(all, 60);
  const filter = loc.params.get("filter") ?? "";
  const rows = useMemo(() => {
    const f = filter.trim().toLowerCase();
    const list = hosts.data ?? [];
    return f === "" ? list : list.filter((r) => r.name.toLowerCase().includes(f) || r.id.toLowerCase().includes(f));
  }, [hosts.data, filter]);
  // Columns no host has a value for are not collected: say so instead of a column of dashes.
  const shown = all.filter((k) => (hosts.data ?? []).some((r) => r.values[k] !== undefined));
  const missing = COLUMNS.filter((c) => !shown.includes(c.key));
  const list = sources.data ?? [];
  const cpuQuery = list.map((s) => useQuery(s, "cpu", window)).find((q) => q !== null) ?? null;
  const error = sources.error ?? hosts.error;

  return (
    <div class="page hosts-page" data-testid="hosts-page">
      <div class="page-scroll">
        <div class="page-header">
          <h1>Hosts</h1>
          <span class="muted">
            USE per host over the last {formatDuration(res.end - res.start)} of the range
            {list.length > 0 && ` · from ${list.map((s) => SOURCE_LABEL[s.id]).join(" and ")}`}
          </span>
          <span class="spacer" />
          {cpuQuery !== null && (
            <Link to="/explore" params={{ q: cpuQuery }} class="btn ghost small" title="Open the CPU query in Explore">
              <Icon name="external" size={14} /> Query in Explore
            </Link>
          )}
        </div>
        {range.error !== null && <ErrorState title="Invalid time range" message={range.error} />}
        {error !== null && <ErrorState title="Could not load host metrics" message={error} />}
        {sources.data !== undefined && sources.data.length === 0 ? (
          <div class="panel">
            <NoHostMetrics />
          </div>
        ) : (
          <div class="panel">
            <Busy on={sources.loading || hosts.loading} />
            <div class="panel-header">
              <h2>Hosts</h2>
              <span class="muted small" data-testid="hosts-status">
                {hosts.data !== undefined ? plural(rows.length, "host") : ""}
              </span>
              <span class="spacer" />
              <span class="use-legend faint small">
                <span class="use-kind">U</span> utilisation <span class="use-kind">S</span> saturation <span class="use-kind">E</span> errors
              </span>
              <input
                class="input small-input"
                data-testid="hosts-filter"
                placeholder="Filter hosts"
                value={filter}
                spellcheck={false}
                autocomplete="off"
                onInput={(e) => updateParams({ filter: e.currentTarget.value }, { replace: true })}
              />
            </div>
            <div class="table-scroll">
              {hosts.data === undefined ? (
                <Loading what="hosts" />
              ) : rows.length === 0 ? (
                <Empty>{filter !== "" ? `No host matches "${filter}".` : "No host reported in this time range."}</Empty>
              ) : (
                <HostsTable rows={rows} columns={shown} spark={spark.data} range={res} sortParam="sort" sortValue={loc.params.get("sort")} defaultSort="name" showSource={list.length > 1} />
              )}
            </div>
          </div>
        )}
        {hosts.data !== undefined && hosts.data.length > 0 && missing.length > 0 && (
          <p class="faint small hosts-note" data-testid="hosts-missing">
            Not collected by any host: {missing.map((c) => c.label.toLowerCase()).join(", ")}.
          </p>
        )}
        <p class="faint small hosts-note">
          Values are averages over the range ({window}) ending at its end: CPU is time not idle; load the 1-minute load average; memory used / total; disk and network bytes per second; filesystem the fullest one's used share;
          errors network errors per second. Amber from 75%, red from 90%.
        </p>
      </div>
    </div>
  );
}
