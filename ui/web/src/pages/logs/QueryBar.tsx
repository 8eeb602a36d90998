// The query bar: service picker, the language toggle (Osprey's search language or
// LogQL), the query input (autocomplete in the search language) and the syntax help.

import { useEffect, useState } from "preact/hooks";
import { logqlString, type Fields, type LogLanguage } from "../../api/logs";
import { Icon } from "../../components/Icon";
import { updateParams } from "../../router";
import { QueryInput } from "./QueryInput";

const SYNTAX: [string, string][] = [
  ["timeout", "a word in the body (whole words, any case)"],
  ["time*", "a word starting with time"],
  ['"card declined"', "a phrase"],
  ["severity>=warn", "levels: trace debug info warn error fatal"],
  ["service:checkout", "the service"],
  ["http.route:/cart", "an attribute or resource attribute, exactly"],
  ["trace_id:4bf9…", "a trace's lines"],
  ["a OR b, NOT a, -a, ( )", "combine; juxtaposition is AND"],
];

const LOGQL_SYNTAX: [string, string][] = [
  ['{service_name="checkout"}', "a stream selector (=, !=, =~, !~ on stream labels)"],
  ['{service_name=~".+"} |= "timeout"', "lines containing a text (!= excludes, |~ !~ regex)"],
  ['{service_name=~".+"} |> "<_> failed <_>"', "lines of a pattern (<_> is anything)"],
  ['{service_name=~".+"} | logfmt | status >= 500', "parse key=value pairs, filter on them"],
  ['{service_name=~".+"} | json | level="error"', "parse JSON, filter on its fields"],
  ['{service_name=~".+"} | http_method="GET"', "structured metadata (the record's attributes)"],
];

/** What a query becomes when the language is switched: a selector for the service in LogQL. */
function switched(to: LogLanguage, service: string | null): string {
  if (to === "search") return "";
  return service === null ? '{service_name=~".+"}' : `{service_name=${logqlString(service)}}`;
}

export function QueryBar({ q, language, service, services, fields, onRun }: { q: string; language: LogLanguage; service: string | null; services: string[]; fields: Fields | undefined; onRun: (q: string) => void }) {
  const [value, setValue] = useState(q);
  const logql = language === "logql";
  const syntax = logql ? LOGQL_SYNTAX : SYNTAX;
  const [help, setHelp] = useState(false);
  useEffect(() => setValue(q), [q]);
  return (
    <form
      class="logs-querybar"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        onRun(value);
      }}
    >
      <select
        class="btn select service-select"
        data-testid="service-select"
        aria-label="Service"
        value={service ?? ""}
        onChange={(e) => updateParams({ service: e.currentTarget.value || null })}
      >
        <option value="">All services</option>
        {services.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
      <div class="lang-toggle" role="group" aria-label="Query language" data-testid="lang-toggle">
        {(["search", "logql"] as const).map((l) => (
          <button
            key={l}
            type="button"
            class={`btn small${language === l ? " on" : ""}`}
            aria-pressed={language === l}
            data-lang={l}
            title={l === "logql" ? "Query in LogQL, Loki's language" : "Query in Osprey's search language"}
            onClick={() => {
              if (language === l) return;
              updateParams({ lang: l === "logql" ? "logql" : null, q: switched(l, service) || null });
            }}
          >
            {l === "logql" ? "LogQL" : "Search"}
          </button>
        ))}
      </div>
      <div class="querybox">
        <Icon name="search" />
        <QueryInput
          value={value}
          onInput={setValue}
          fields={logql ? undefined : fields}
          services={logql ? [] : services}
          suggestions={!logql}
          placeholder={
            logql
              ? '{service_name="checkout"} |= "timeout" | logfmt | status >= 500   ( / to focus, Enter to run )'
              : 'severity>=warn "card declined" -healthcheck http.route:/cart   ( / to focus, Enter to run )'
          }
        />
        <button type="button" class="btn ghost small" aria-expanded={help} onClick={() => setHelp(!help)} title={logql ? "LogQL syntax" : "Search syntax"}>
          Syntax
        </button>
        {help && (
          <div class="popover syntax-popover" role="dialog" aria-label={logql ? "LogQL syntax" : "Search syntax"}>
            <table>
              <tbody>
                {syntax.map(([ex, what]) => (
                  <tr key={ex}>
                    <td>
                      <button
                        type="button"
                        class="link-button mono"
                        onClick={() => {
                          setValue(ex);
                          setHelp(false);
                        }}
                      >
                        {ex}
                      </button>
                    </td>
                    <td class="muted">{what}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
      <button type="submit" class="btn primary" data-testid="run-query">
        <Icon name="play" size={12} />
        Run
      </button>
    </form>
  );
}
