// Pieces of the hosts view that the home page shares: the data hook (sources,
// USE values at the range's end, sparkline series) and the empty state.

import { useLoad } from "../../lib/load";
import { useTimeRange } from "../../lib/refresh";
import { autoStepSeconds } from "../../lib/time";
import { windowOf } from "../services/red";
import { detectSources, loadHosts, loadUseSeries, LOOKED_FOR, type Source, type UseKey } from "./use";
import "../services/services.css";
import "./hosts.css";

/** What the page says when no host metrics exist. */
export function NoHostMetrics() {
  return (
    <div class="hosts-empty" data-testid="hosts-empty">
      <h2>No host metrics yet</h2>
      <p class="muted">Osprey looks for either of these series families; none of them exists for this tenant.</p>
      <div class="looked-for">
        <div>
          <h3>node_exporter (scraped), one host per <code>instance</code></h3>
          <p class="mono small">{LOOKED_FOR.node.join(" · ")}</p>
          <p class="faint small">
            Add a <code>[[scrape.jobs]]</code> with the exporter's address to Osprey's config.
          </p>
        </div>
        <div>
          <h3>
            OTLP hostmetrics, one host per <code>host_name</code> or <code>instance</code>
          </h3>
          <p class="mono small">{LOOKED_FOR.otel.join(" · ")}</p>
          <p class="faint small">Point the OpenTelemetry Collector's hostmetrics receiver at Osprey's OTLP endpoint.</p>
        </div>
      </div>
    </div>
  );
}

/** Sources, USE rows at the range's end and sparkline series; `only` narrows to one host. */
export function useHostsData(columns: UseKey[], points: number, only: string | null = null) {
  const range = useTimeRange();
  const res = range.resolved ?? { start: 0, end: 0 };
  const window = windowOf(res.end - res.start);
  const enabled = range.resolved !== null;
  const sources = useLoad((s) => detectSources(s), [range.tick], { label: "Could not list host metrics", enabled });
  const srcKey = JSON.stringify((sources.data ?? []).map((x) => [x.id, x.key, [...x.names]]));
  const have = enabled && sources.data !== undefined && sources.data.length > 0;
  const list: Source[] = sources.data ?? [];
  const colKey = columns.join(",");
  const hosts = useLoad((s) => loadHosts(list, window, res.end, s, columns, only), [srcKey, colKey, only, window, res.end, range.tick], {
    label: "Could not load host metrics",
    enabled: have,
  });
  const step = autoStepSeconds(res, points);
  const spark = useLoad((s) => loadUseSeries(list, columns, res, step, s, only), [srcKey, colKey, only, res.start, res.end, step, range.tick], {
    label: "Could not load host metrics over time",
    enabled: have,
  });
  return { range, res, window, sources, hosts, spark };
}
