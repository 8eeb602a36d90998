// `/services`: a RED table of every service from Osprey's span metrics (rate,
// error %, p50/p95/p99 and impact = p95 × rate, over the picker's range ending
// at its end), sortable, each row linking to the service, its traces and its
// logs, with a sparkline of its rate over the range. `?view=map`: the same
// services as a map drawn from the service-graph series (ServiceMap.tsx).

import { useMemo } from "preact/hooks";
import { Icon } from "../../components/Icon";
import { Link } from "../../components/Link";
import { Busy, Empty, ErrorState, Loading } from "../../components/States";
import { plural } from "../../lib/format";
import { useLoad } from "../../lib/load";
import { useTimeRange } from "../../lib/refresh";
import { autoStepSeconds, formatDuration } from "../../lib/time";
import { serviceColor, setServiceUniverse } from "../../lib/trace";
import { updateParams, type PageProps } from "../../router";
import { graphQueries, loadGraph } from "./graph";
import { RedTable } from "./RedTable";
import { MapLegend, ServiceMap } from "./ServiceMap";
import { CALLS, loadRed, rangeBy, redQueries, SERVER, windowOf, type RedRow } from "./red";
import { Sparkline } from "./Sparkline";
import "./services.css";

export default function Services({ loc }: PageProps) {
  const range = useTimeRange();
  const res = range.resolved ?? { start: 0, end: 0 };
  const window = windowOf(res.end - res.start);
  const filter = loc.params.get("filter") ?? "";
  const all = loc.params.get("kind") === "all";
  const sel = all ? "" : SERVER;
  const map = loc.params.get("view") === "map";
  const red = useLoad((s) => loadRed(["service_name"], sel, window, res.end, s), [sel, window, res.end, range.tick], {
    label: "Could not load service metrics",
    enabled: range.resolved !== null,
  });
  const step = autoStepSeconds(res, 60);
  const sparkQuery = `sum by (service_name) (rate(${CALLS}{${sel}}[${Math.max(step * 2, 60)}s]))`;
  const spark = useLoad((s) => rangeBy(sparkQuery, "service_name", res, step, s), [sparkQuery, res.start, res.end, range.tick], {
    label: "Could not load service rates",
    enabled: range.resolved !== null && !map,
  });
  const rows = useMemo(() => {
    const all = (red.data ?? []).filter((r) => r.labels.service_name !== "");
    setServiceUniverse(all.map((r) => r.labels.service_name ?? ""));
    const f = filter.trim().toLowerCase();
    return f === "" ? all : all.filter((r) => (r.labels.service_name ?? "").toLowerCase().includes(f));
  }, [red.data, filter]);
  const graph = useLoad((s) => loadGraph(window, res.end, s), [window, res.end, range.tick], {
    label: "Could not load the service graph",
    enabled: range.resolved !== null && map,
  });
  const redByName = useMemo(() => new Map((red.data ?? []).map((r) => [r.labels.service_name ?? "", r])), [red.data]);
  const name = (r: RedRow) => r.labels.service_name ?? "";
  const q = redQueries("service_name", sel, window);
  const explore = map ? graphQueries(window).rate : q.rate;

  const tableView = (
    <div class="table-scroll">
      {red.data === undefined && red.loading ? (
        <Loading what="services" />
      ) : red.data !== undefined && rows.length === 0 ? (
        <Empty>
          {filter !== ""
            ? `No service matches "${filter}".`
            : "No span metrics in this time range. Send OTLP traces to Osprey (or run osprey demo); span metrics are written every spanmetrics.interval (15s by default)."}
        </Empty>
      ) : (
        <RedTable
          rows={rows}
          nameLabel="Service"
          name={name}
          testId="services-table"
          rowTestId="service-row"
          renderName={(r) => (
            <Link to={`/services/${encodeURIComponent(name(r))}`} class="svc-link" data-testid="service-link">
              <span class="swatch" style={{ background: serviceColor(name(r)) }} />
              {name(r)}
            </Link>
          )}
          extraHead={
            <>
              <th class="spark-col">Rate over range</th>
              <th>
                <span class="sr-only">Links</span>
              </th>
            </>
          }
          renderExtra={(r) => (
            <>
              <td class="spark-col">
                <Sparkline series={spark.data?.get(name(r))} range={res} color={serviceColor(name(r))} />
              </td>
              <td class="row-links">
                <Link to="/traces" params={{ service: name(r) }} data-testid="service-traces-link" title={`Traces of ${name(r)}`}>
                  Traces
                </Link>
                <Link to="/logs" params={{ q: `service:${name(r)}` }} data-testid="service-logs-link" title={`Logs of ${name(r)}`}>
                  Logs
                </Link>
              </td>
            </>
          )}
        />
      )}
    </div>
  );

  return (
    <div class="page services-page" data-testid="services-page">
      <div class="page-scroll">
        <div class="page-header">
          <h1>Services</h1>
          <span class="muted">
            RED from span metrics ({all ? "every span kind" : "server spans"}) over the last {formatDuration(res.end - res.start)} of the range
          </span>
          <span class="spacer" />
          <Link to="/explore" params={{ q: explore }} class="btn ghost small" title="Open the rate query in Explore">
            <Icon name="external" size={14} /> Query in Explore
          </Link>
        </div>
        {range.error !== null && <ErrorState title="Invalid time range" message={range.error} />}
        {red.error !== null && <ErrorState title="Could not load service metrics" message={red.error} />}
        {map && graph.error !== null && <ErrorState title="Could not load the service graph" message={graph.error} />}
        <div class="panel">
          <Busy on={red.loading || (map && graph.loading)} />
          <div class="panel-header">
            <div class="btn-group" role="group" aria-label="View">
              <button type="button" class="btn small" aria-pressed={!map} data-testid="view-table" onClick={() => updateParams({ view: null })}>
                Table
              </button>
              <button type="button" class="btn small" aria-pressed={map} data-testid="view-map" title="Services and their calls, from the service graph" onClick={() => updateParams({ view: "map" })}>
                Map
              </button>
            </div>
            <span class="muted small" data-testid="services-status">
              {map
                ? graph.data !== undefined
                  ? `${plural(new Set(graph.data.edges.flatMap((e) => [e.client, e.server])).size, "node")}, ${plural(graph.data.edges.length, "edge")}`
                  : ""
                : red.data !== undefined
                  ? plural(rows.length, "service")
                  : ""}
            </span>
            <span class="spacer" />
            <div class="btn-group" role="group" aria-label="Spans counted">
              <button
                type="button"
                class="btn small"
                aria-pressed={!all}
                data-testid="kind-server"
                title="Count the spans that receive requests (span kind SERVER)"
                onClick={() => updateParams({ kind: null }, { replace: true })}
              >
                Server spans
              </button>
              <button
                type="button"
                class="btn small"
                aria-pressed={all}
                data-testid="kind-all"
                title="Count every span (services with only client, producer, consumer or internal spans too)"
                onClick={() => updateParams({ kind: "all" }, { replace: true })}
              >
                All spans
              </button>
            </div>
            <input
              class="input small-input"
              data-testid="services-filter"
              placeholder={map ? "Highlight services" : "Filter services"}
              value={filter}
              spellcheck={false}
              autocomplete="off"
              onInput={(e) => updateParams({ filter: e.currentTarget.value }, { replace: true })}
            />
          </div>
          {map ? (
            graph.data === undefined ? (
              graph.loading ? <Loading what="the service graph" /> : null
            ) : graph.data.edges.length === 0 ? (
              <Empty>No service-graph edges in this time range. Edges come from client and server spans of different services (and from root spans: the user), written every spanmetrics.interval.</Empty>
            ) : (
              <>
                <ServiceMap graph={graph.data} red={redByName} filter={filter} kindLabel={all ? "every span" : "server spans"} />
                <MapLegend />
              </>
            )
          ) : (
            tableView
          )}
        </div>
        <p class="faint small services-note">
          {map && (
            <>
              Map: an edge is a client span of one service whose server span belongs to another (traces_service_graph_request_total); its width is the request rate, its colour the
              share that failed, latency from the server's side (the client's for peers without spans). Nodes show the RED below.{" "}
            </>
          )}
          Rate: calls per second of server spans (or of every span with "All spans"); errors: share with status ERROR; p50/p95/p99 from the duration histogram; impact: p95 (ms) × rate,
          the latency users wait in total. Window: the picker's range ({window}) ending at its end.
        </p>
      </div>
    </div>
  );
}
