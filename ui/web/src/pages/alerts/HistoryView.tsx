// What happened over the picked range: alerts that fired and resolved, and the
// notifier's deliveries per receiver (notified or failed, with the alerts sent),
// newest first, filtered by alert name.

import type { History } from "../../api/alerts";
import { Empty } from "../../components/States";
import { formatValue } from "../../lib/format";
import { formatUtc } from "../../lib/time";
import { Labels } from "./shared";

export function HistoryView({ data, filter }: { data: History; filter: string }) {
  const f = filter.trim().toLowerCase();
  const hit = (labels: Record<string, string>) => f === "" || (labels.alertname ?? "").toLowerCase().includes(f);
  const transitions = data.transitions.filter((t) => hit(t.labels)).reverse();
  const notifications = data.notifications.filter((n) => n.alerts.length === 0 || n.alerts.some((a) => hit(a.labels))).reverse();
  return (
    <div class="history">
      <h3>Fired and resolved</h3>
      {transitions.length === 0 ? (
        <Empty>No alert fired or resolved in this time range.</Empty>
      ) : (
        <div class="table-scroll">
          <table class="table" data-testid="transitions-table">
            <thead>
              <tr>
                <th>Time (UTC)</th>
                <th>Event</th>
                <th>Alert</th>
                <th>Labels</th>
                <th class="num">Value</th>
                <th>Group</th>
              </tr>
            </thead>
            <tbody>
              {transitions.map((t, i) => (
                <tr key={i} data-testid="transition-row" data-event={t.event} data-alertname={t.labels.alertname ?? t.rule}>
                  <td class="mono">{formatUtc(t.time)}</td>
                  <td>
                    <span class={`alert-badge event-${t.event}`}>{t.event}</span>
                  </td>
                  <td>{t.rule}</td>
                  <td>
                    <Labels labels={t.labels} skip={["alertname"]} />
                  </td>
                  <td class="num mono">{formatValue(t.value)}</td>
                  <td class="muted">{t.group}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h3>Notifications</h3>
      {!data.notifier ? (
        <Empty>No built-in notifier: set [alerting] alertmanager_config to route alerts to receivers.</Empty>
      ) : notifications.length === 0 ? (
        <Empty>Nothing was sent to a receiver in this time range.</Empty>
      ) : (
        <div class="table-scroll">
          <table class="table" data-testid="notifications-table">
            <thead>
              <tr>
                <th>Time (UTC)</th>
                <th>Receiver</th>
                <th>Outcome</th>
                <th>Alerts</th>
                <th class="num">Attempts</th>
                <th>Error</th>
              </tr>
            </thead>
            <tbody>
              {notifications.map((n, i) => (
                <tr key={i} data-testid="notification-row" data-outcome={n.outcome} data-receiver={n.receiver}>
                  <td class="mono">{formatUtc(n.time)}</td>
                  <td>
                    {n.receiver} <span class="faint small">{n.integration}</span>
                  </td>
                  <td>
                    <span class={`alert-badge outcome-${n.outcome}`}>{n.outcome}</span>
                  </td>
                  <td>
                    {n.alerts.map((a, j) => (
                      <span key={j} class={`label-chip ${a.resolved ? "resolved" : "firing"}`} title={JSON.stringify(a.labels)} data-testid="notified-alert" data-alertname={a.labels.alertname ?? ""} data-status={a.resolved ? "resolved" : "firing"}>
                        {a.labels.alertname ?? "?"} {a.resolved ? "resolved" : "firing"}
                      </span>
                    ))}
                    {n.firing + n.resolved > n.alerts.length && <span class="faint small"> +{n.firing + n.resolved - n.alerts.length} more</span>}
                  </td>
                  <td class="num mono">{n.attempts}</td>
                  <td class="rule-error small">{n.error ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
