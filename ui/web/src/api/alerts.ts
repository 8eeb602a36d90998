// Osprey's alerting surfaces (alerting/src/api): Prometheus' `GET /api/v1/alerts`
// (every pending or firing alert of the tenant's rules) and `GET /api/v1/rules`.

import { isRecord, requestData, shapeError, str } from "./http";
import { sampleValue } from "./prometheus";

export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: "firing" | "pending" | string;
  /** RFC 3339: when the alert became active (pending). */
  activeAt: string;
  value: number;
}

function strings(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isRecord(v)) for (const [k, x] of Object.entries(v)) out[k] = str(x);
  return out;
}

function alertOf(a: Record<string, unknown>): Alert {
  return {
    labels: strings(a.labels),
    annotations: strings(a.annotations),
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
