// Refreshing: one app-wide tick that every data load depends on. The
// refresh button bumps it; auto-refresh (`?refresh=30s`) bumps it on a timer
// while the tab is visible.

import { useMemo } from "preact/hooks";
import { useLocation } from "../router";
import { Store, useStore } from "./store";
import { DEFAULT_RANGE, resolveRange, type RangeParams, type Resolved } from "./time";

export const tick = new Store(0);

export function refreshNow(): void {
  tick.set(tick.get() + 1);
}

export const REFRESH_OPTIONS = ["", "5s", "10s", "30s", "1m", "5m", "15m"] as const;

/** The URL's time range, resolved against now at each refresh. */
export interface TimeRange {
  params: RangeParams;
  /** Null when the URL's range is invalid (`error` says why). */
  resolved: Resolved | null;
  error: string | null;
  tick: number;
}

export function useTimeRange(): TimeRange {
  const loc = useLocation();
  const t = useStore(tick);
  const from = loc.params.get("from") || DEFAULT_RANGE.from;
  const to = loc.params.get("to") || DEFAULT_RANGE.to;
  return useMemo(() => {
    const r = resolveRange({ from, to }, Date.now());
    return typeof r === "string"
      ? { params: { from, to }, resolved: null, error: r, tick: t }
      : { params: { from, to }, resolved: r, error: null, tick: t };
  }, [from, to, t]);
}
