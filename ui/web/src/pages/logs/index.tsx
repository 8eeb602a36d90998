// `/logs`: search in Osprey's language (`?q=`) or in LogQL (`?lang=logql`), a service filter
// (`?service=`), the volume by severity (drag to zoom), facets, and a
// virtualised list of matches, newest first, loading older pages on scroll;
// the live tail (`?live=1`) and the patterns tab (`?tab=patterns`).

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { services as spanServices } from "../../api/jaeger";
import { addTerm, facetKey, facetStage, fieldTerm, logFields, logHistogram, toggleStage, type Fields, type LogLanguage } from "../../api/logs";
import { Busy, ErrorState } from "../../components/States";
import { Tabs, type TabDef } from "../../components/Tabs";
import { useLoad, type Load } from "../../lib/load";
import { refreshNow, useTimeRange } from "../../lib/refresh";
import { updateParams, type PageProps } from "../../router";
import { Facets } from "./Facets";
import { VolumeHistogram } from "./Histogram";
import { LiveTail } from "./LiveTail";
import { LinesView, useSearch } from "./Lines";
import { PatternsView } from "./Patterns";
import { patternStages, toggleGroup } from "./patternQuery";
import { QueryBar } from "./QueryBar";
import "./logs.css";

const WRAP_KEY = "osprey.logs.wrap";

function readWrap(): boolean {
  try {
    return window.localStorage.getItem(WRAP_KEY) === "1";
  } catch {
    return false;
  }
}

const RESULT_TABS: TabDef<"lines" | "patterns">[] = [
  { id: "lines", label: "Lines" },
  { id: "patterns", label: "Patterns" },
];

function ResultTabs({ tab, live }: { tab: "lines" | "patterns"; live: boolean }) {
  return (
    <Tabs class="results-tabs" label="Results" tabs={RESULT_TABS} value={tab} onSelect={(t) => updateParams(t === "lines" ? { tab: null } : { tab: t, live: null })}>
      <button
        type="button"
        class={`btn small live-toggle${live ? " on" : ""}`}
        data-testid="live-toggle"
        aria-pressed={live}
        title={live ? "Stop the live tail" : "Follow new matching lines as they arrive"}
        onClick={() => {
          updateParams({ live: live ? null : "1", tab: null });
          // Back from live: the range ends now again, so the tailed lines are in it.
          if (live) refreshNow();
        }}
      >
        <span class={`live-dot${live ? " on" : ""}`} aria-hidden="true" />
        Live
      </button>
    </Tabs>
  );
}

/** Whether the query's language can filter on a facet field (LogQL has no severity label). */
function writable(language: LogLanguage, field: string): boolean {
  if (field === "service") return true;
  if (language === "logql") return field !== "severity";
  return fieldTerm(field === "severity" ? "severity" : facetKey(field), "x") !== null;
}

/** Whether a facet value is filtered for by the query. */
function active(language: LogLanguage, q: string, field: string, value: string): boolean {
  if (language === "logql") return q.includes(facetStage(field, value, false)[0]);
  const term = fieldTerm(field === "severity" ? "severity" : facetKey(field), value);
  return term !== null && q.split(/\s+/).includes(term);
}

/** The facets beside the results: a value filters for it (service: the picker), minus filters it out. */
function FieldsSide({ fields, q, language, service, filter }: { fields: Load<Fields>; q: string; language: LogLanguage; service: string | null; filter: (key: string, value: string, negate: boolean) => void }) {
  return (
    <aside class="logs-side panel" aria-label="Fields">
      <div class="panel-header">
        <h2>Fields</h2>
        <span class="spacer" />
        <span class="faint small">top values</span>
      </div>
      <Busy on={fields.loading} />
      <div class="logs-side-scroll">
        <Facets
          data={fields.data}
          loading={fields.loading}
          actions={{
            filter: (field, value, negate) => {
              if (field === "service") {
                if (negate) filter("service", value, true);
                else updateParams({ service: service === value ? null : value });
                return;
              }
              filter(field === "severity" ? "severity" : facetKey(field), value, negate);
            },
            active: (field, value) => (field === "service" ? service === value : active(language, q, field, value)),
            writable: (field) => writable(language, field),
          }}
        />
      </div>
    </aside>
  );
}

export default function Logs({ loc }: PageProps) {
  const range = useTimeRange();
  const q = loc.params.get("q") ?? "";
  const language: LogLanguage = loc.params.get("lang") === "logql" ? "logql" : "search";
  const service = loc.params.get("service") || null;
  const tab = loc.params.get("tab") === "patterns" ? "patterns" : "lines";
  const live = tab === "lines" && loc.params.get("live") === "1";
  const [wrap, setWrap] = useState(readWrap);
  const res = range.resolved ?? { start: 0, end: 0 };
  const ok = range.resolved !== null;
  const searchKey = `${q}\u0000${language}\u0000${service ?? ""}\u0000${res.start}\u0000${res.end}`;

  const search = useSearch(q, language, service, res.start, res.end, range.tick, ok && tab === "lines" && !live);
  const hist = useLoad((s) => logHistogram({ query: q, language, service, start: res.start, end: res.end, by: "severity" }, s), [q, language, service, res.start, res.end, range.tick], {
    label: "Could not load the log volume",
    // Live: the volume is hidden (the tail has no range), as in Grafana.
    enabled: ok && !live,
    resetOn: `${q}\u0000${language}\u0000${service ?? ""}`,
  });
  const fields = useLoad((s) => logFields({ query: q, language, service, start: res.start, end: res.end, limit: 8 }, s), [q, language, service, res.start, res.end, range.tick], {
    label: "Could not load fields",
    enabled: ok,
    resetOn: `${q}\u0000${language}\u0000${service ?? ""}`,
  });
  const svcs = useLoad((s) => spanServices(s), [range.tick], { label: "Could not load services" });

  const run = (next: string) => updateParams({ q: next.trim() || null });
  const filter = (key: string, value: string, negate: boolean) => {
    if (key === "service" && !negate) {
      updateParams({ service: value });
      return;
    }
    if (language === "logql") {
      if (key !== "severity") run(toggleStage(q, ...facetStage(key, value, negate)));
      return;
    }
    const term = fieldTerm(key, value);
    if (term !== null) run(addTerm(q, term, negate));
  };
  const listActions = { filter, service: (name: string) => updateParams({ service: name }) };

  const serviceNames = new Set<string>(svcs.data ?? []);
  for (const f of fields.data?.fields ?? []) if (f.field === "service") for (const v of f.values) serviceNames.add(v.value);
  if (service !== null) serviceNames.add(service);

  // One query error is reported once (search, volume and facets share it).
  const errors = [...new Set([search.error, hist.error, fields.error].filter((e): e is string => e !== null))];

  const wrapToggle = (
    <label class="check small">
      <input
        type="checkbox"
        data-testid="wrap-lines"
        checked={wrap}
        onChange={(e) => {
          const on = e.currentTarget.checked;
          setWrap(on);
          try {
            window.localStorage.setItem(WRAP_KEY, on ? "1" : "0");
          } catch {
            // Storage unavailable.
          }
        }}
      />
      Wrap lines
    </label>
  );
  const header = (status: ComponentChildren, controls: ComponentChildren) => (
    <div class="panel-header results-header">
      <ResultTabs tab={tab} live={live} />
      {status}
      <span class="spacer" />
      {controls}
      {tab === "lines" && wrapToggle}
    </div>
  );

  let body: ComponentChildren;
  if (tab === "patterns") {
    body = (
      <>
        {header(null, null)}
        <PatternsView
          q={q}
          language={language}
          service={service}
          range={res}
          tick={range.tick}
          enabled={ok}
          onFilter={(group, negate) => {
            const next = language === "logql" ? toggleStage(q, ...patternStages(group, negate)) : toggleGroup(q, group, negate);
            // Including shows the lines of the pattern; excluding keeps pruning patterns.
            updateParams({ q: next || null, tab: negate ? "patterns" : null });
          }}
        />
      </>
    );
  } else if (live) {
    body = <LiveTail q={q} language={language} service={service} wrap={wrap} actions={listActions} renderHeader={header} />;
  } else {
    body = <LinesView search={search} q={q} service={service} resetKey={searchKey} tick={range.tick} wrap={wrap} actions={listActions} header={header} />;
  }

  return (
    <div class="page logs-page">
      <h1 class="sr-only">Logs</h1>
      <QueryBar q={q} language={language} service={service} services={[...serviceNames].sort()} fields={fields.data} onRun={run} />
      {range.error !== null && <ErrorState title="Invalid time range" message={range.error} />}
      {errors.map((e) => (
        <ErrorState key={e} title="The search failed" message={e} />
      ))}
      <div class="logs-body">
        <FieldsSide fields={fields} q={q} language={language} service={service} filter={filter} />
        <section class="logs-main">
          {!live && (
            <div class="panel volume-panel">
              <Busy on={hist.loading} />
              <VolumeHistogram data={hist.data} range={res} />
            </div>
          )}
          <div class={`panel results-panel${live ? " live" : ""}`}>{body}</div>
        </section>
      </div>
    </div>
  );
}
