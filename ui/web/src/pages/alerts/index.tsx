// `/alerts`: what on-call needs of the rules. Tabs (`?tab=`): the firing and
// pending alerts (silenced and inhibited marks from the built-in notifier, a
// silence prefilled from an alert, the rule's expression in Metrics), the rules
// by file and group (state, health, last evaluation, errors), the silences
// (create, edit, expire) and the history over the picked range (fired,
// resolved, notified, failed). Without a built-in notifier
// (`[alerting] alertmanager_config`) the notifier's parts are left out.

import { useState } from "preact/hooks";
import { history, notifierAlerts, ruleGroups, silences, type Matcher } from "../../api/alerts";
import { Busy, ErrorState, Loading } from "../../components/States";
import { Tabs, type TabDef } from "../../components/Tabs";
import { formatCount } from "../../lib/format";
import { useLoad } from "../../lib/load";
import { useTimeRange } from "../../lib/refresh";
import { updateParams, type PageProps } from "../../router";
import { AlertsList } from "./AlertsList";
import { HistoryView } from "./HistoryView";
import { RulesList } from "./RulesList";
import { newDraft, SilenceEditor, SilenceList, type Draft } from "./Silences";
import "./alerts.css";

type Tab = "alerts" | "rules" | "silences" | "history";
const TABS: Tab[] = ["alerts", "rules", "silences", "history"];

export default function Alerts({ loc }: PageProps) {
  const range = useTimeRange();
  const res = range.resolved ?? { start: 0, end: 0 };
  const param = loc.params.get("tab");
  const tab: Tab = TABS.find((t) => t === param) ?? "alerts";
  const filter = loc.params.get("filter") ?? "";
  const [draft, setDraft] = useState<Draft | null>(null);

  const groups = useLoad((s) => ruleGroups(s), [range.tick], { label: "Could not load the rules" });
  const hist = useLoad((s) => history(res.start, res.end, s), [res.start, res.end, range.tick], {
    label: "Could not load the alert history",
    enabled: range.resolved !== null,
  });
  const notifier = hist.data?.notifier === true;
  const held = useLoad((s) => notifierAlerts(s), [range.tick], { label: "Could not load the notifier's alerts", enabled: notifier });
  const sil = useLoad((s) => silences(s), [range.tick], { label: "Could not load silences", enabled: notifier });

  const now = Date.now();
  const all = (groups.data?.groups ?? []).flatMap((g) => g.rules.flatMap((r) => r.alerts));
  const firing = all.filter((a) => a.state === "firing").length;
  const active = (sil.data ?? []).filter((s) => s.state !== "expired").length;
  const silence = notifier ? (m: Matcher[]) => setDraft(newDraft(m, Date.now())) : null;

  const tabs: TabDef<Tab>[] = [
    { id: "alerts", label: `Alerts ${formatCount(all.length)}` },
    { id: "rules", label: "Rules" },
    { id: "silences", label: notifier ? `Silences ${formatCount(active)}` : "Silences" },
    { id: "history", label: "History" },
  ];
  const errors = [...new Set([groups.error, hist.error, held.error, sil.error].filter((e): e is string => e !== null))];

  let body;
  if (tab === "history") {
    body = hist.data === undefined ? <Loading what="the history" /> : <HistoryView data={hist.data} filter={filter} />;
  } else if (tab === "silences") {
    body = !notifier ? (
      <p class="muted notice" data-testid="no-notifier">
        Silences belong to the built-in notifier: set <code>[alerting] alertmanager_config</code> to an Alertmanager configuration.
      </p>
    ) : sil.data === undefined ? (
      <Loading what="silences" />
    ) : (
      <SilenceList list={sil.data} alerts={held.data ?? []} now={now} onEdit={setDraft} />
    );
  } else if (groups.data === undefined) {
    body = <Loading what="rules" />;
  } else if (tab === "rules") {
    body = <RulesList groups={groups.data.groups} now={now} />;
  } else {
    body = <AlertsList groups={groups.data.groups} notifier={notifier ? (held.data ?? []) : null} now={now} onSilence={silence} />;
  }

  return (
    <div class="page alerts-page" data-testid="alerts-page">
      <div class="page-scroll">
        <div class="page-header">
          <h1>Alerts</h1>
          <span class={firing > 0 ? "firing-count crit" : "firing-count"} data-testid="firing-count">
            {formatCount(firing)} firing
          </span>
          <span class="muted">{formatCount(all.length - firing)} pending</span>
          <span class="spacer" />
          {tab === "silences" && notifier && (
            <button type="button" class="btn primary" data-testid="new-silence" onClick={() => setDraft(newDraft([{ name: "alertname", value: "", isRegex: false, isEqual: true }], Date.now()))}>
              New silence
            </button>
          )}
          {tab === "history" && (
            <input class="input history-filter" type="search" placeholder="Filter by alert name" aria-label="Filter by alert name" value={filter} onInput={(e) => updateParams({ filter: e.currentTarget.value || null }, { replace: true })} />
          )}
        </div>
        {groups.data?.reloadError !== null && groups.data?.reloadError !== undefined && (
          <ErrorState title="The last reload failed; the rules below are the ones loaded before" message={groups.data.reloadError} />
        )}
        {errors.map((e) => (
          <ErrorState key={e} title="Could not load alerting" message={e} />
        ))}
        <div class="panel">
          <div class="panel-header">
            <Tabs label="Alerting" tabs={tabs} value={tab} onSelect={(t) => updateParams({ tab: t === "alerts" ? null : t, filter: null })} />
            <Busy on={groups.loading || hist.loading || held.loading || sil.loading} />
          </div>
          <div class="alerts-body">{body}</div>
        </div>
      </div>
      {draft !== null && <SilenceEditor draft={draft} alerts={held.data ?? []} onClose={() => setDraft(null)} />}
    </div>
  );
}

