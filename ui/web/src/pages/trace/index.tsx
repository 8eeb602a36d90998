// `/trace/{traceID}`: for now the trace's spans as a table in start order
// (real data from /api/traces/{id}); the waterfall view replaces it next.

import { trace as fetchTrace, type JaegerTrace } from "../../api/jaeger";
import { Link } from "../../components/Link";
import { Busy, ErrorState, Loading } from "../../components/States";
import { formatUtc } from "../../lib/time";
import { useLoad } from "../../lib/load";
import { useTimeRange } from "../../lib/refresh";
import type { PageProps } from "../../router";

function ms(us: number): string {
  if (us === 0) return "0 ms";
  const v = us / 1000;
  return v >= 100 ? `${v.toFixed(0)} ms` : v >= 1 ? `${v.toFixed(2)} ms` : `${us} µs`;
}

function SpanTable({ t }: { t: JaegerTrace }) {
  const spans = [...t.spans].sort((a, b) => a.startTime - b.startTime);
  const t0 = spans[0]?.startTime ?? 0;
  const end = Math.max(...spans.map((s) => s.startTime + s.duration));
  const services = new Set(spans.map((s) => t.processes[s.processID]?.serviceName ?? ""));
  return (
    <>
      <p class="muted" style={{ marginBottom: "12px" }}>
        {spans.length} spans · {services.size} services · {ms(end - t0)} · started {formatUtc(t0 / 1000, true)} UTC ·{" "}
        <Link to="/logs" params={{ q: `trace_id:${t.traceID}` }}>
          logs of this trace
        </Link>
      </p>
      <div class="panel">
        <table class="table" data-testid="span-table">
          <thead>
            <tr>
              <th>Service</th>
              <th>Operation</th>
              <th class="num">Start</th>
              <th class="num">Duration</th>
              <th>Span</th>
            </tr>
          </thead>
          <tbody>
            {spans.map((s) => {
              const error = s.tags.some((k) => k.key === "error" && String(k.value) === "true");
              return (
                <tr key={s.spanID} data-testid="span-row">
                  <td>{t.processes[s.processID]?.serviceName ?? ""}</td>
                  <td class={error ? "sev-error" : undefined}>{s.operationName}</td>
                  <td class="num mono">+{ms(s.startTime - t0)}</td>
                  <td class="num mono">{ms(s.duration)}</td>
                  <td class="mono faint">{s.spanID}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}

export default function Trace({ params }: PageProps) {
  const id = params.id ?? "";
  const range = useTimeRange();
  const t = useLoad((s) => fetchTrace(id, s), [id, range.tick], { label: "Could not load the trace" });
  return (
    <div class="page">
      <Busy on={t.loading} />
      <div class="page-scroll">
        <div class="page-header">
          <h1>Trace</h1>
          <span class="mono muted">{id}</span>
        </div>
        <p class="muted small" style={{ marginBottom: "12px" }}>
          Coming next: the waterfall (critical path, span details, the span's logs) and a flame graph.
        </p>
        {t.error !== null && <ErrorState title="Could not load the trace" message={t.error} />}
        {t.data === undefined && t.error === null && <Loading what="trace" />}
        {t.data !== undefined && <SpanTable t={t.data} />}
      </div>
    </div>
  );
}
