// Osprey's dashboards API (query/src/api/dashboards.rs): stored Grafana
// dashboards per tenant, with versions; built-in ones are read-only.

import { isRecord, request, requestData, shapeError, str } from "./http";

export interface DashboardSummary {
  id: string;
  version: number;
  /** RFC 3339. */
  updated: string;
  title: string;
  tags: string[];
  builtin: boolean;
}

export interface StoredDashboard extends DashboardSummary {
  dashboard: Record<string, unknown>;
}

const BASE = "/api/v1/dashboards";

function summaryOf(v: unknown): DashboardSummary {
  if (!isRecord(v)) throw shapeError(BASE, "a dashboard is not an object");
  return {
    id: str(v.id),
    version: Number(v.version),
    updated: str(v.updated),
    title: str(v.title),
    tags: Array.isArray(v.tags) ? v.tags.map(str) : [],
    builtin: v.builtin === true,
  };
}

function storedOf(v: unknown): StoredDashboard {
  const s = summaryOf(v);
  if (!isRecord(v) || !isRecord(v.dashboard)) throw shapeError(BASE, "no dashboard");
  return { ...s, dashboard: v.dashboard };
}

export async function listDashboards(q: { query?: string; tags?: string[] }, signal?: AbortSignal): Promise<DashboardSummary[]> {
  const { data } = await requestData(BASE, { params: { query: q.query || null, tag: q.tags ?? [] }, signal });
  if (!Array.isArray(data)) throw shapeError(BASE, "data is not a list");
  return data.map(summaryOf);
}

export async function getDashboard(id: string, signal?: AbortSignal): Promise<StoredDashboard> {
  const { data } = await requestData(`${BASE}/${encodeURIComponent(id)}`, { signal });
  return storedOf(data);
}

export async function createDashboard(dashboard: Record<string, unknown>): Promise<StoredDashboard> {
  const { data } = await requestData(BASE, { method: "POST", json: { dashboard } });
  return storedOf(data);
}

/** Saves a new version made from `version` (409 when someone saved since). */
export async function updateDashboard(id: string, version: number, dashboard: Record<string, unknown>): Promise<StoredDashboard> {
  const { data } = await requestData(`${BASE}/${encodeURIComponent(id)}`, { method: "PUT", json: { dashboard, version } });
  return storedOf(data);
}

export async function deleteDashboard(id: string): Promise<void> {
  await request(`${BASE}/${encodeURIComponent(id)}`, { method: "DELETE", allowEmpty: true });
}

export async function dashboardVersions(id: string, signal?: AbortSignal): Promise<DashboardSummary[]> {
  const path = `${BASE}/${encodeURIComponent(id)}/versions`;
  const { data } = await requestData(path, { signal });
  if (!Array.isArray(data)) throw shapeError(path, "data is not a list");
  return data.map(summaryOf);
}

export async function restoreVersion(id: string, version: number): Promise<StoredDashboard> {
  const { data } = await requestData(`${BASE}/${encodeURIComponent(id)}/versions/${version}/restore`, { method: "POST", json: {} });
  return storedOf(data);
}
