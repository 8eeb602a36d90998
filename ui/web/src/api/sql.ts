// `POST /api/v1/sql`: read-only SQL over the `logs`, `spans` and `metrics` tables.

import { isRecord, request, shapeError, str } from "./http";

export interface SqlResult {
  columns: { name: string; type: string }[];
  rows: unknown[][];
}

const SQL = "/api/v1/sql";

export async function runSql(query: string, signal?: AbortSignal): Promise<SqlResult> {
  const body = await request(SQL, { method: "POST", json: { query }, signal });
  if (!isRecord(body) || !Array.isArray(body.columns) || !Array.isArray(body.rows)) {
    throw shapeError(SQL, "no columns/rows");
  }
  return {
    columns: body.columns.map((c) => ({
      name: isRecord(c) ? str(c.name) : str(c),
      type: isRecord(c) ? str(c.type) : "",
    })),
    rows: body.rows.filter((r): r is unknown[] => Array.isArray(r)),
  };
}

/** A SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}
