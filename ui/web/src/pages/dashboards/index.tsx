// `/dashboards`: the tenant's stored dashboards and Osprey's built-in ones,
// searched by title (`?query=`) and tag (`?tag=`, repeatable), and the import
// of a Grafana dashboard.

import { useState } from "preact/hooks";
import { listDashboards } from "../../api/dashboards";
import { Link } from "../../components/Link";
import { Empty, ErrorState, Loading } from "../../components/States";
import { useLoad } from "../../lib/load";
import { useTimeRange } from "../../lib/refresh";
import { formatUtc } from "../../lib/time";
import { navigate, serialize, updateParams, type PageProps } from "../../router";
import "./dashboards.css";
import { ImportDialog } from "./Import";

function toggleTag(tag: string): void {
  const p = new URLSearchParams(window.location.search);
  const tags = p.getAll("tag");
  p.delete("tag");
  for (const t of tags.includes(tag) ? tags.filter((x) => x !== tag) : [...tags, tag]) p.append("tag", t);
  const qs = serialize(p);
  navigate(`${window.location.pathname}${qs === "" ? "" : `?${qs}`}`);
}

export default function Dashboards({ loc }: PageProps) {
  const query = loc.params.get("query") ?? "";
  const tags = loc.params.getAll("tag");
  const range = useTimeRange();
  const [importing, setImporting] = useState(loc.params.get("import") === "1");
  const list = useLoad((s) => listDashboards({ query, tags }, s), [query, tags.join("\u0000"), range.tick], { label: "Could not load dashboards" });
  return (
    <div class="page dashboards" data-testid="dashboards">
      <div class="page-scroll">
      <div class="page-header">
        <h1>Dashboards</h1>
        <input
          type="search"
          class="input dash-search"
          placeholder="Search by title"
          value={query}
          data-testid="dash-search"
          onInput={(e) => updateParams({ query: e.currentTarget.value }, { replace: true })}
        />
        {tags.map((t) => (
          <button key={t} type="button" class="dash-tag active" onClick={() => toggleTag(t)} title="Remove this tag filter">
            {t} ×
          </button>
        ))}
        <span class="spacer" />
        <button type="button" class="btn primary" data-testid="dash-import-open" onClick={() => setImporting(!importing)}>
          Import
        </button>
      </div>
      {importing && <ImportDialog onClose={() => setImporting(false)} />}
      {list.error !== null && <ErrorState message={list.error} />}
      {list.data === undefined ? (
        list.error === null && <Loading what="dashboards" />
      ) : list.data.length === 0 ? (
        <Empty>No dashboard matches. Import one from Grafana, or clear the search.</Empty>
      ) : (
        <table class="dash-list">
          <thead>
            <tr>
              <th>Title</th>
              <th>Tags</th>
              <th>Version</th>
              <th>Saved</th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((d) => (
              <tr key={d.id} data-testid="dash-list-row" data-id={d.id}>
                <td>
                  <Link to={`/d/${d.id}`}>{d.title}</Link>
                  {d.builtin && <span class="dash-badge">built-in</span>}
                </td>
                <td>
                  {d.tags.map((t) => (
                    <button key={t} type="button" class={`dash-tag${tags.includes(t) ? " active" : ""}`} onClick={() => toggleTag(t)}>
                      {t}
                    </button>
                  ))}
                </td>
                <td class="mono">v{d.version}</td>
                <td class="muted">{d.builtin ? "shipped with Osprey" : formatUtc(Date.parse(d.updated))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      </div>
    </div>
  );
}
