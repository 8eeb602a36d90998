// The error banner's contents: failures that are not shown next to a query
// (an unreachable server, a failing side panel), keyed by what failed.

import { Store } from "./store";

export interface BannerError {
  key: string;
  label: string;
  message: string;
}

export const bannerErrors = new Store<BannerError[]>([]);

export function reportError(key: string, label: string, message: string): void {
  const list = bannerErrors.get().filter((e) => e.key !== key);
  bannerErrors.set([...list, { key, label, message }]);
}

export function clearError(key: string): void {
  const list = bannerErrors.get();
  if (list.some((e) => e.key === key)) bannerErrors.set(list.filter((e) => e.key !== key));
}

export function clearAllErrors(): void {
  bannerErrors.set([]);
}
