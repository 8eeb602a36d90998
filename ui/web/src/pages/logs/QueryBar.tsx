// The query bar: service picker, the search input with autocomplete and the
// syntax help.

import { useEffect, useState } from "preact/hooks";
import type { Fields } from "../../api/logs";
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

export function QueryBar({ q, service, services, fields, onRun }: { q: string; service: string | null; services: string[]; fields: Fields | undefined; onRun: (q: string) => void }) {
  const [value, setValue] = useState(q);
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
      <div class="querybox">
        <Icon name="search" />
        <QueryInput
          value={value}
          onInput={setValue}
          fields={fields}
          services={services}
          placeholder='severity>=warn "card declined" -healthcheck http.route:/cart   ( / to focus, Enter to run )'
        />
        <button type="button" class="btn ghost small" aria-expanded={help} onClick={() => setHelp(!help)} title="Search syntax">
          Syntax
        </button>
        {help && (
          <div class="popover syntax-popover" role="dialog" aria-label="Search syntax">
            <table>
              <tbody>
                {SYNTAX.map(([ex, what]) => (
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
