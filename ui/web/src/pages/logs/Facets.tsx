// Facets: the top values of every field among the matches (service,
// severity, attributes, resource). Click a value to filter for it, the minus
// to filter it out.

import { useState } from "preact/hooks";
import { facetKey, type Fields } from "../../api/logs";
import { Icon } from "../../components/Icon";
import { formatCount } from "../../lib/format";
import { toggled } from "../../lib/sets";

function group(field: string): number {
  if (field === "service") return 0;
  if (field === "severity") return 1;
  if (field.startsWith("attributes.")) return 2;
  return 3;
}

export interface FacetActions {
  /** Filter for (`negate` false) or out a `field` = `value`. */
  filter: (field: string, value: string, negate: boolean) => void;
  /** Whether `field` = `value` is already filtered for. */
  active: (field: string, value: string) => boolean;
  /** Whether the query's language can filter on `field`. */
  writable: (field: string) => boolean;
}

export function Facets({ data, loading, actions }: { data: Fields | undefined; loading: boolean; actions: FacetActions }) {
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  if (data === undefined) {
    return <div class="facets-empty muted">{loading ? "Loading fields…" : "No fields."}</div>;
  }
  const fields = [...data.fields].sort((a, b) => group(a.field) - group(b.field) || a.field.localeCompare(b.field));
  if (fields.length === 0) return <div class="facets-empty muted">No fields among the matches.</div>;
  return (
    <div class="facets" data-testid="facets">
      {fields.map((f) => {
        const open = !collapsed.has(f.field);
        const prefix = f.field.startsWith("attributes.") ? "attr" : f.field.startsWith("resource.") ? "res" : null;
        const name = prefix === null ? f.field : facetKey(f.field);
        const writable = actions.writable(f.field);
        return (
          <section key={f.field} class="facet" data-field={f.field} data-testid="facet">
            <button
              type="button"
              class="facet-head"
              aria-expanded={open}
              onClick={() => setCollapsed(toggled(collapsed, f.field))}
            >
              <Icon name={open ? "down" : "right"} size={12} />
              {prefix !== null && <span class={`facet-kind ${prefix}`}>{prefix}</span>}
              <span class="facet-name" title={f.field}>
                {name}
              </span>
              <span class="facet-distinct faint" title={`${formatCount(f.distinct)}${f.distinctCapped ? "+" : ""} distinct values`}>
                {formatCount(f.distinct)}
                {f.distinctCapped ? "+" : ""}
              </span>
            </button>
            {open && (
              <ul class="facet-values">
                {f.values.map((v) => {
                  const pct = data.matched > 0 ? (v.count / data.matched) * 100 : 0;
                  const on = actions.active(f.field, v.value);
                  return (
                    <li key={v.value} class={on ? "on" : undefined}>
                      <button
                        type="button"
                        class="facet-value"
                        data-testid="facet-value"
                        disabled={!writable}
                        title={`${f.field} = ${v.value}: ${formatCount(v.count)} lines (${pct.toFixed(1)}%) — click to filter`}
                        onClick={() => actions.filter(f.field, v.value, false)}
                      >
                        <span class="facet-bar" style={{ width: `${pct}%` }} aria-hidden="true" />
                        <span class={`facet-label${f.field === "severity" ? ` sev-${v.value}` : ""}`}>{v.value === "" ? "(empty)" : v.value}</span>
                        <span class="facet-count">{formatCount(v.count)}</span>
                      </button>
                      <button
                        type="button"
                        class="facet-out"
                        disabled={!writable}
                        title={`Filter out ${f.field} = ${v.value}`}
                        aria-label={`Filter out ${v.value}`}
                        onClick={() => actions.filter(f.field, v.value, true)}
                      >
                        <Icon name="minus" size={12} />
                      </button>
                    </li>
                  );
                })}
              </ul>
            )}
          </section>
        );
      })}
    </div>
  );
}
