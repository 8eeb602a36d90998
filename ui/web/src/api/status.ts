// Who the UI acts as: `GET /api/v1/status/whoami` (the tenant a token acts as when the
// URL names none, and the tenants it may switch to).

import { isRecord, requestData, str } from "./http";

export interface WhoAmI {
  /** The tenant requests act as now. */
  tenant: string;
  authentication: boolean;
  /** The token's name in the server's config; null with authentication off. */
  token: string | null;
  /** The tenants the token may act as (its own first); null: any. */
  tenants: string[] | null;
  scopes: string[];
}

export async function whoami(signal?: AbortSignal): Promise<WhoAmI> {
  const { data } = await requestData("/api/v1/status/whoami", { signal });
  const d = isRecord(data) ? data : {};
  return {
    tenant: str(d.tenant) || "default",
    authentication: d.authentication === true,
    token: typeof d.token === "string" ? d.token : null,
    tenants: Array.isArray(d.tenants) ? d.tenants.map(str) : null,
    scopes: Array.isArray(d.scopes) ? d.scopes.map(str) : [],
  };
}

/** The tenant field's hover text. */
export function tenantTitle(me: WhoAmI | undefined): string {
  if (me === undefined || !me.authentication) return "Tenant (X-Scope-OrgID); empty: default";
  const others = me.tenants === null ? "any tenant" : me.tenants.join(", ");
  return `Signed in with token "${me.token ?? "?"}", acting as ${me.tenant}; it may act as ${others}. Empty: the token's own tenant`;
}
