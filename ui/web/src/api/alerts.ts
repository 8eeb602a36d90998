// Osprey's alerting surfaces (alerting/src/api): Prometheus' `GET /api/v1/alerts`
// (every pending or firing alert of the tenant's rules) and `GET /api/v1/rules`.

import { isRecord, request, requestData, shapeError, str, stringRecord } from "./http";
import { sampleValue } from "./prometheus";

export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: "firing" | "pending" | string;
  /** RFC 3339: when the alert became active (pending). */
  activeAt: string;
  value: number;
}

function alertOf(a: Record<string, unknown>): Alert {
  return {
    labels: stringRecord(a.labels),
    annotations: stringRecord(a.annotations),
    state: str(a.state),
    activeAt: str(a.activeAt),
    value: sampleValue(a.value),
  };
}

const ALERTS = "/api/v1/alerts";

/** `GET /api/v1/alerts`: pending and firing alerts. */
export async function alerts(signal?: AbortSignal): Promise<Alert[]> {
  const { data } = await requestData(ALERTS, { signal });
  if (!isRecord(data) || !Array.isArray(data.alerts)) throw shapeError(ALERTS, "no data.alerts");
  return data.alerts.filter(isRecord).map(alertOf);
}

export interface RuleSummary {
  group: string;
  name: string;
  type: "alerting" | "recording";
  /** Alerting rules: `inactive`, `pending` or `firing`. */
  state: string;
  health: string;
  lastError: string;
}

const RULES = "/api/v1/rules";

/** `GET /api/v1/rules` (`type=alert|record` filters), flattened over groups. */
export async function rules(type: "alert" | "record" | null = null, signal?: AbortSignal): Promise<RuleSummary[]> {
  const { data } = await requestData(RULES, { params: { type }, signal });
  if (!isRecord(data) || !Array.isArray(data.groups)) throw shapeError(RULES, "no data.groups");
  const out: RuleSummary[] = [];
  for (const g of data.groups.filter(isRecord)) {
    for (const r of Array.isArray(g.rules) ? g.rules.filter(isRecord) : []) {
      out.push({
        group: str(g.name),
        name: str(r.name),
        type: r.type === "recording" ? "recording" : "alerting",
        state: str(r.state),
        health: str(r.health),
        lastError: str(r.lastError),
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// The /alerts page: rule groups in full, the notifier's alerts and silences,
// and the history of transitions and notifications.
// ---------------------------------------------------------------------------

export interface RuleAlert extends Alert {
  /** The rule that holds it. */
  rule: string;
}

export interface Rule {
  name: string;
  type: "alerting" | "recording";
  /** Alerting rules: `inactive`, `pending` or `firing`. */
  state: string;
  query: string;
  /** `for`, seconds. */
  duration: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  alerts: Alert[];
  health: string;
  lastError: string;
  /** Seconds. */
  evaluationTime: number;
  /** Epoch ms; null before the first evaluation. */
  lastEvaluation: number | null;
}

export interface RuleGroup {
  name: string;
  file: string;
  /** `logql` for Loki-ruler groups. */
  language: "promql" | "logql";
  /** Seconds. */
  interval: number;
  evaluationTime: number;
  lastEvaluation: number | null;
  rules: Rule[];
}

export interface RuleGroups {
  groups: RuleGroup[];
  /** Why the last reload failed (the rules shown are the ones loaded before). */
  reloadError: string | null;
}

/** An RFC 3339 time as epoch ms; null for Go's zero time or garbage. */
function epochMs(v: unknown): number | null {
  const ms = Date.parse(str(v));
  return Number.isNaN(ms) || ms <= 0 ? null : ms;
}

function num(v: unknown): number {
  return typeof v === "number" ? v : Number(v) || 0;
}

/** `GET /api/v1/rules`, every field the page shows. */
export async function ruleGroups(signal?: AbortSignal): Promise<RuleGroups> {
  const { data } = await requestData(RULES, { signal });
  if (!isRecord(data) || !Array.isArray(data.groups)) throw shapeError(RULES, "no data.groups");
  const groups = data.groups.filter(isRecord).map((g) => ({
    name: str(g.name),
    file: str(g.file),
    language: g.language === "logql" ? ("logql" as const) : ("promql" as const),
    interval: num(g.interval),
    evaluationTime: num(g.evaluationTime),
    lastEvaluation: epochMs(g.lastEvaluation),
    rules: (Array.isArray(g.rules) ? g.rules.filter(isRecord) : []).map((r) => ({
      name: str(r.name),
      type: r.type === "recording" ? ("recording" as const) : ("alerting" as const),
      state: str(r.state),
      query: str(r.query),
      duration: num(r.duration),
      labels: stringRecord(r.labels),
      annotations: stringRecord(r.annotations),
      alerts: Array.isArray(r.alerts) ? r.alerts.filter(isRecord).map(alertOf) : [],
      health: str(r.health),
      lastError: str(r.lastError),
      evaluationTime: num(r.evaluationTime),
      lastEvaluation: epochMs(r.lastEvaluation),
    })),
  }));
  return { groups, reloadError: typeof data.reloadError === "string" ? data.reloadError : null };
}

export interface Transition {
  /** Epoch ms. */
  time: number;
  event: "fired" | "resolved" | string;
  group: string;
  rule: string;
  labels: Record<string, string>;
  value: number;
}

export interface Notification {
  time: number;
  receiver: string;
  integration: string;
  outcome: "notified" | "failed" | string;
  firing: number;
  resolved: number;
  attempts: number;
  error: string | null;
  /** The alerts sent: labels and whether each went as resolved. */
  alerts: { labels: Record<string, string>; resolved: boolean }[];
}

export interface History {
  /** Whether a built-in notifier is configured (`[alerting] alertmanager_config`). */
  notifier: boolean;
  transitions: Transition[];
  notifications: Notification[];
}

const HISTORY = "/api/v1/alerts/history";

/** `GET /api/v1/alerts/history` over `[start, end]` (epoch ms). */
export async function history(start: number, end: number, signal?: AbortSignal): Promise<History> {
  const { data } = await requestData(HISTORY, { params: { start: start / 1000, end: end / 1000 }, signal });
  if (!isRecord(data)) throw shapeError(HISTORY, "no data");
  const list = (v: unknown) => (Array.isArray(v) ? v.filter(isRecord) : []);
  return {
    notifier: data.notifier === true,
    transitions: list(data.transitions).map((t) => ({
      time: epochMs(t.time) ?? 0,
      event: str(t.event),
      group: str(t.group),
      rule: str(t.rule),
      labels: stringRecord(t.labels),
      value: sampleValue(t.value),
    })),
    notifications: list(data.notifications).map((n) => ({
      time: epochMs(n.time) ?? 0,
      receiver: str(n.receiver),
      integration: str(n.integration),
      outcome: str(n.outcome),
      firing: num(n.firing),
      resolved: num(n.resolved),
      attempts: num(n.attempts),
      error: typeof n.error === "string" ? n.error : null,
      alerts: list(n.alerts).map((a) => ({ labels: stringRecord(a.labels), resolved: a.status === "resolved" })),
    })),
  };
}

/** An alert as the built-in notifier holds it (Alertmanager API v2). */
export interface NotifierAlert {
  labels: Record<string, string>;
  fingerprint: string;
  /** `active` or `suppressed` (silenced or inhibited). */
  state: string;
  silencedBy: string[];
  inhibitedBy: string[];
  receivers: string[];
  startsAt: number | null;
}

/** `GET /api/v2/alerts`: call only when [`History.notifier`] says there is one. */
export async function notifierAlerts(signal?: AbortSignal): Promise<NotifierAlert[]> {
  const path = "/api/v2/alerts";
  const body = await request(path, { signal });
  if (!Array.isArray(body)) throw shapeError(path, "not an array");
  return body.filter(isRecord).map((a) => {
    const status = isRecord(a.status) ? a.status : {};
    return {
      labels: stringRecord(a.labels),
      fingerprint: str(a.fingerprint),
      state: str(status.state),
      silencedBy: Array.isArray(status.silencedBy) ? status.silencedBy.map(str) : [],
      inhibitedBy: Array.isArray(status.inhibitedBy) ? status.inhibitedBy.map(str) : [],
      receivers: Array.isArray(a.receivers) ? a.receivers.filter(isRecord).map((r) => str(r.name)) : [],
      startsAt: epochMs(a.startsAt),
    };
  });
}

/** The notifier's alert for a rule's alert: the same labels, or the fewest extra
 * (the notifier adds the external labels). */
export function notifierAlertOf(labels: Record<string, string>, list: NotifierAlert[]): NotifierAlert | null {
  let best: NotifierAlert | null = null;
  let extra = Infinity;
  for (const a of list) {
    if (!Object.entries(labels).every(([k, v]) => a.labels[k] === v)) continue;
    const n = Object.keys(a.labels).length - Object.keys(labels).length;
    if (n < extra) {
      best = a;
      extra = n;
    }
  }
  return best;
}

export interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

export interface Silence {
  id: string;
  state: "active" | "pending" | "expired" | string;
  matchers: Matcher[];
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
}

const SILENCES = "/api/v2/silences";

/** `GET /api/v2/silences` (expired ones included, kept 120 h). */
export async function silences(signal?: AbortSignal): Promise<Silence[]> {
  const body = await request(SILENCES, { signal });
  if (!Array.isArray(body)) throw shapeError(SILENCES, "not an array");
  return body.filter(isRecord).map((s) => ({
    id: str(s.id),
    state: isRecord(s.status) ? str(s.status.state) : "",
    matchers: (Array.isArray(s.matchers) ? s.matchers.filter(isRecord) : []).map((m) => ({
      name: str(m.name),
      value: str(m.value),
      isRegex: m.isRegex === true,
      isEqual: m.isEqual !== false,
    })),
    startsAt: epochMs(s.startsAt) ?? 0,
    endsAt: epochMs(s.endsAt) ?? 0,
    createdBy: str(s.createdBy),
    comment: str(s.comment),
  }));
}

/** Creates a silence, or edits the one with `id`; answers the silence's id (an edit
 * that changes matchers or an active silence's start gets a new one). */
export async function saveSilence(s: Omit<Silence, "state" | "id"> & { id: string | null }): Promise<string> {
  const body = await request(SILENCES, {
    method: "POST",
    json: {
      ...(s.id !== null ? { id: s.id } : {}),
      matchers: s.matchers,
      startsAt: new Date(s.startsAt).toISOString(),
      endsAt: new Date(s.endsAt).toISOString(),
      createdBy: s.createdBy,
      comment: s.comment,
    },
  });
  if (!isRecord(body) || typeof body.silenceID !== "string") throw shapeError(SILENCES, "no silenceID");
  return body.silenceID;
}

/** `DELETE /api/v2/silence/{id}`: ends it now. */
export async function expireSilence(id: string): Promise<void> {
  await request(`/api/v2/silence/${encodeURIComponent(id)}`, { method: "DELETE", allowEmpty: true });
}

/** Whether a matcher matches a label set (Alertmanager's semantics: a missing label is ""). */
export function matches(m: Matcher, labels: Record<string, string>): boolean {
  const v = labels[m.name] ?? "";
  let hit: boolean;
  if (m.isRegex) {
    try {
      hit = new RegExp(`^(?:${m.value})$`).test(v);
    } catch {
      hit = false;
    }
  } else hit = v === m.value;
  return hit === m.isEqual;
}

/** A rule group as written to the ruler API (Prometheus' rule file format). */
export interface RuleGroupSpec {
  name: string;
  rules: {
    alert: string;
    expr: string;
    for?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  }[];
}

/**
 * `POST /config/v1/rules/{namespace}` (Cortex's and Mimir's ruler API): stores the
 * group in the tenant's rules directory and reloads. JSON is YAML, so the group
 * goes as JSON.
 */
export async function saveRuleGroup(namespace: string, group: RuleGroupSpec): Promise<void> {
  await request(`/config/v1/rules/${encodeURIComponent(namespace)}`, { method: "POST", json: group, allowEmpty: true });
}
