// The one place requests are made. Every request carries the tenant chosen in
// the URL (`?tenant=`) as `X-Scope-OrgID`, and every failure becomes an
// `ApiError` whose message is the server's own (Prometheus' `error`, Jaeger's
// `errors[].msg`), so views can say what went wrong.

export class ApiError extends Error {
  /** HTTP status; null when the server could not be reached. */
  readonly status: number | null;
  readonly endpoint: string;
  /** Prometheus' `errorType` (`bad_data`, `timeout`, ...) when given. */
  readonly errorType: string | null;

  constructor(endpoint: string, message: string, status: number | null, errorType: string | null = null) {
    super(message);
    this.name = "ApiError";
    this.endpoint = endpoint;
    this.status = status;
    this.errorType = errorType;
  }

  /** The server is unreachable or failing (not a problem with the request). */
  get isUnavailable(): boolean {
    return this.status === null || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}

/** A human sentence for any error a load can throw. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export const TENANT_HEADER = "X-Scope-OrgID";

/** Tenant ids Osprey accepts (auth/src/lib.rs). */
export const TENANT_RE = /^(?!\.{1,2}$)[A-Za-z0-9_.-]{1,64}$/;

/** The tenant in the URL, or null for the server's default tenant. */
export function currentTenant(): string | null {
  const t = new URLSearchParams(window.location.search).get("tenant");
  return t !== null && TENANT_RE.test(t) ? t : null;
}

export function tenantHeaders(): Record<string, string> {
  const t = currentTenant();
  return t === null ? {} : { [TENANT_HEADER]: t };
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "";
  return String(v);
}

/** The message inside an error body (Prometheus, Jaeger or Alertmanager shape), if any. */
export function errorMessage(body: unknown): { message: string; type: string | null } | null {
  // Alertmanager's API v2 answers a bare JSON string, or `{code, message}`.
  if (typeof body === "string" && body !== "") return { message: body, type: null };
  if (isRecord(body) && typeof body.message === "string" && body.message !== "") return { message: body.message, type: null };
  if (!isRecord(body)) return null;
  if (typeof body.error === "string" && body.error !== "") {
    const type = typeof body.errorType === "string" && body.errorType !== "" ? body.errorType : null;
    return { message: body.error, type };
  }
  if (Array.isArray(body.errors)) {
    const msgs = body.errors
      .map((e) => (isRecord(e) && typeof e.msg === "string" ? e.msg : null))
      .filter((m): m is string => m !== null && m !== "");
    if (msgs.length > 0) return { message: msgs.join("; "), type: null };
  }
  return null;
}

export type Params = Record<string, string | number | null | undefined | string[]>;

export function toSearch(params: Params): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === "") continue;
    if (Array.isArray(v)) for (const x of v) qs.append(k, x);
    else qs.set(k, String(v));
  }
  const s = qs.toString();
  return s === "" ? "" : `?${s}`;
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  /** A 2xx with an empty body is fine (answers `null`): Alertmanager's DELETE. */
  allowEmpty?: boolean;
  params?: Params;
  /** JSON body (POST). */
  json?: unknown;
  /** Form body (POST, as Prometheus clients send long queries). */
  form?: Params;
  signal?: AbortSignal;
}

/** Performs a request and returns the parsed JSON body, or throws `ApiError`. */
export async function request(path: string, opts: RequestOptions = {}): Promise<unknown> {
  const endpoint = path + (opts.params ? toSearch(opts.params) : "");
  const headers: Record<string, string> = { Accept: "application/json", ...tenantHeaders() };
  let body: BodyInit | undefined;
  if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.json);
  } else if (opts.form !== undefined) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    body = toSearch(opts.form).slice(1);
  }
  let resp: Response;
  try {
    resp = await fetch(endpoint, {
      method: opts.method ?? (body === undefined ? "GET" : "POST"),
      headers,
      body,
      signal: opts.signal,
    });
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(
      endpoint,
      `Cannot reach Osprey (${e instanceof Error ? e.message : String(e)})`,
      null,
    );
  }
  const text = await resp.text();
  let parsed: unknown = undefined;
  if (text !== "") {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (!resp.ok) {
    const err = errorMessage(parsed);
    const detail = err?.message ?? (text.trim().slice(0, 300) || resp.statusText || "request failed");
    throw new ApiError(endpoint, `${detail} (HTTP ${resp.status})`, resp.status, err?.type ?? null);
  }
  if (parsed === undefined && text === "" && opts.allowEmpty === true) return null;
  if (parsed === undefined) {
    throw new ApiError(endpoint, `${path} answered with something that is not JSON`, resp.status);
  }
  return parsed;
}

/** `{"status":"success","data":…}` → data; `{"status":"error",…}` → ApiError. */
export async function requestData(path: string, opts: RequestOptions = {}): Promise<{ data: unknown; warnings: string[]; infos: string[] }> {
  const body = await request(path, opts);
  if (!isRecord(body)) throw new ApiError(path, `${path}: unexpected response (not an object)`, 200);
  if (body.status === "error") {
    const err = errorMessage(body);
    throw new ApiError(path, err?.message ?? "query failed", 200, err?.type ?? null);
  }
  const warnings = Array.isArray(body.warnings) ? body.warnings.map(str) : [];
  // Prometheus 2.50+ splits annotations into warnings and (informational) infos.
  const infos = Array.isArray(body.infos) ? body.infos.map(str) : [];
  return { data: body.data, warnings, infos };
}

/** An object of strings (label sets, annotations) from JSON; other values as text. */
export function stringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isRecord(v)) for (const [k, x] of Object.entries(v)) out[k] = str(x);
  return out;
}

/** `data` as a list of strings, or a shape error naming `path`. */
export function stringList(path: string, data: unknown): string[] {
  if (!Array.isArray(data)) throw shapeError(path, "data is not a list");
  return data.map(str);
}

export function shapeError(path: string, what: string): ApiError {
  return new ApiError(path, `${path}: unexpected response (${what})`, 200);
}
