// The firing and pending alerts of the tenant's rules: state, labels, value,
// active since, whether the notifier silences or inhibits them, their
// annotations, and actions (the rule's expression in Metrics, a silence
// prefilled with the alert's labels).

import { useState } from "preact/hooks";
import { notifierAlertOf, type Alert, type Matcher, type NotifierAlert, type RuleGroup } from "../../api/alerts";
import { Icon } from "../../components/Icon";
import { Empty } from "../../components/States";
import { formatValue, parseTimestamp } from "../../lib/format";
import { toggled } from "../../lib/sets";
import { Ago, ExploreLink, Labels, StateBadge } from "./shared";

interface Row {
  alert: Alert;
  group: RuleGroup;
  query: string;
  duration: number;
  activeAt: number | null;
}

function rowsOf(groups: RuleGroup[]): Row[] {
  const rows: Row[] = [];
  for (const g of groups) {
    for (const r of g.rules) {
      for (const a of r.alerts) {
        const t = parseTimestamp(a.activeAt);
        rows.push({ alert: a, group: g, query: r.query, duration: r.duration, activeAt: Number.isNaN(t) ? null : t });
      }
    }
  }
  // Firing first, then the longest active.
  return rows.sort((x, y) => Number(y.alert.state === "firing") - Number(x.alert.state === "firing") || (x.activeAt ?? 0) - (y.activeAt ?? 0));
}

/** Matchers that select exactly this alert (its labels as the notifier sees them). */
export function matchersOf(labels: Record<string, string>): Matcher[] {
  return Object.entries(labels).map(([name, value]) => ({ name, value, isRegex: false, isEqual: true }));
}

function Marks({ n, all }: { n: NotifierAlert | null; all: NotifierAlert[] }) {
  if (n === null) return null;
  const inhibitors = n.inhibitedBy.map((fp) => all.find((a) => a.fingerprint === fp)?.labels.alertname ?? fp);
  return (
    <>
      {n.silencedBy.length > 0 && (
        <span class="alert-mark silenced" data-testid="mark-silenced" title={`Silenced by ${n.silencedBy.join(", ")}`}>
          silenced
        </span>
      )}
      {n.inhibitedBy.length > 0 && (
        <span class="alert-mark inhibited" data-testid="mark-inhibited" title={`Inhibited by ${inhibitors.join(", ")}`}>
          inhibited
        </span>
      )}
    </>
  );
}

export function AlertsList({ groups, notifier, now, onSilence }: { groups: RuleGroup[]; notifier: NotifierAlert[] | null; now: number; onSilence: ((m: Matcher[]) => void) | null }) {
  const [open, setOpen] = useState<Set<string>>(new Set());
  const rows = rowsOf(groups);
  if (rows.length === 0) return <Empty>No alert is pending or firing.</Empty>;
  return (
    <div class="table-scroll">
      <table class="table alerts-table" data-testid="alerts-table">
        <thead>
          <tr>
            <th>State</th>
            <th>Alert</th>
            <th>Labels</th>
            <th class="num">Value</th>
            <th>Active since</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const key = `${r.group.file}\u0000${r.group.name}\u0000${JSON.stringify(r.alert.labels)}`;
            const n = notifier === null ? null : notifierAlertOf(r.alert.labels, notifier);
            const expanded = open.has(key);
            const name = r.alert.labels.alertname ?? "";
            return [
              <tr key={key} class={`alert-row ${r.alert.state}`} data-testid="alerts-row" data-alertname={name} data-state={r.alert.state} data-silenced={n !== null && n.silencedBy.length > 0 ? "1" : "0"}>
                <td>
                  <StateBadge state={r.alert.state} />
                </td>
                <td>
                  <button type="button" class="plain-button alert-name" aria-expanded={expanded} onClick={() => setOpen(toggled(open, key))}>
                    <Icon name={expanded ? "down" : "right"} size={12} />
                    {name}
                  </button>
                  <Marks n={n} all={notifier ?? []} />
                </td>
                <td>
                  <Labels labels={r.alert.labels} skip={["alertname"]} />
                </td>
                <td class="num mono">{formatValue(r.alert.value)}</td>
                <td>
                  <Ago ms={r.activeAt} now={now} />
                </td>
                <td class="row-actions">
                  {r.group.language === "promql" && (
                    <ExploreLink query={r.query} at={r.activeAt} forSeconds={r.duration}>
                      Graph
                    </ExploreLink>
                  )}
                  {onSilence !== null && (
                    <button type="button" class="btn small" data-testid="silence-alert" onClick={() => onSilence(matchersOf(n?.labels ?? r.alert.labels))}>
                      Silence
                    </button>
                  )}
                </td>
              </tr>,
              expanded && (
                <tr key={`${key}-details`} class="alert-details">
                  <td colSpan={6}>
                    <dl class="annotations" data-testid="alert-annotations">
                      {Object.entries(r.alert.annotations).map(([k, v]) => [<dt key={`${k}-k`}>{k}</dt>, <dd key={`${k}-v`}>{v}</dd>])}
                      <dt>rule</dt>
                      <dd class="mono">{r.query}</dd>
                      <dt>group</dt>
                      <dd>
                        {r.group.name} <span class="faint">({r.group.file})</span>
                      </dd>
                      {n !== null && n.receivers.length > 0 && (
                        <>
                          <dt>receivers</dt>
                          <dd>{n.receivers.join(", ")}</dd>
                        </>
                      )}
                    </dl>
                  </td>
                </tr>
              ),
            ];
          })}
        </tbody>
      </table>
    </div>
  );
}
