// Small helpers for the Sets kept in component state (expanded rows, hidden
// series, collapsed spans): a new Set each change, so Preact sees it.

/** A copy of `set` with `v` removed if it was there, added if it was not. */
export function toggled<T>(set: ReadonlySet<T>, v: T): Set<T> {
  const next = new Set(set);
  if (!next.delete(v)) next.add(v);
  return next;
}
