// The tenant's rules, grouped by file and group: each rule's state, health (and
// error), last evaluation, evaluation time and expression.

import type { RuleGroup } from "../../api/alerts";
import { Empty } from "../../components/States";
import { plural } from "../../lib/format";
import { Ago, ExploreLink, StateBadge } from "./shared";

function seconds(s: number): string {
  if (s < 0.001) return `${Math.round(s * 1e6)}µs`;
  if (s < 1) return `${(s * 1000).toFixed(1)}ms`;
  return `${s.toFixed(2)}s`;
}

export function RulesList({ groups, now }: { groups: RuleGroup[]; now: number }) {
  if (groups.length === 0) return <Empty>No rule files are loaded. List Prometheus rule files in [rules] files (or Loki-ruler files in log_files), then reload.</Empty>;
  const files = [...new Set(groups.map((g) => g.file))];
  return (
    <div class="rule-files" data-testid="rule-files">
      {files.map((file) => (
        <section key={file} class="rule-file" data-testid="rule-file" data-file={file}>
          <h3 class="mono">{file}</h3>
          {groups
            .filter((g) => g.file === file)
            .map((g) => (
              <div key={g.name} class="rule-group" data-testid="rule-group" data-group={g.name}>
                <div class="rule-group-head">
                  <strong>{g.name}</strong>
                  {g.language === "logql" && <span class="badge">LogQL</span>}
                  <span class="muted small">
                    every {g.interval}s · {plural(g.rules.length, "rule")} · last evaluated <Ago ms={g.lastEvaluation} now={now} /> in {seconds(g.evaluationTime)}
                  </span>
                </div>
                <table class="table rules-table">
                  <thead>
                    <tr>
                      <th>Rule</th>
                      <th>State</th>
                      <th>Health</th>
                      <th>Last evaluation</th>
                      <th class="num">Took</th>
                      <th>Expression</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    {g.rules.map((r) => (
                      <tr key={r.name + r.query} data-testid="rule-row" data-rule={r.name} data-health={r.health} data-state={r.type === "alerting" ? r.state : "recording"}>
                        <td>
                          <span class="rule-name">{r.name}</span>
                          {r.type === "recording" && <span class="faint small"> record</span>}
                          {r.type === "alerting" && r.duration > 0 && <span class="faint small"> for {r.duration}s</span>}
                        </td>
                        <td>{r.type === "alerting" ? <StateBadge state={r.state} /> : <span class="faint">—</span>}</td>
                        <td>
                          <span class={`health health-${r.health}`}>{r.health}</span>
                          {r.lastError !== "" && (
                            <div class="rule-error small" data-testid="rule-error">
                              {r.lastError}
                            </div>
                          )}
                        </td>
                        <td>
                          <Ago ms={r.lastEvaluation} now={now} />
                        </td>
                        <td class="num mono">{seconds(r.evaluationTime)}</td>
                        <td class="mono rule-query" title={r.query}>
                          {r.query}
                        </td>
                        <td class="row-actions">
                          {g.language === "promql" && (
                            <ExploreLink query={r.query} at={null} forSeconds={r.duration}>
                              Graph
                            </ExploreLink>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ))}
        </section>
      ))}
    </div>
  );
}
