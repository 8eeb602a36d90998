// "Lines of this template" in the search language.
//
// The language has no regular expression or pattern filter (logql/src/search: words,
// phrases, prefixes, fields), so a Drain template (`user <*> logged in from <*>`) is
// written as its service plus each run of literal tokens between wildcards as a
// phrase: `(service:api "user" "logged in from")`. That matches every line of the
// template, and also any other line of the service holding those phrases (in any
// order, at any length): a superset, exact when no other template shares them.

import { fieldTerm } from "../../api/logs";

const WILDCARD = "<*>";
/** A word as the search language cuts text (Rust's `char::is_alphanumeric` runs). */
const WORD = /[\p{Alphabetic}\p{N}]+/gu;

/** The words of each literal run of a template (runs are cut at `<*>`). */
export function patternRuns(pattern: string): string[][] {
  const runs: string[][] = [[]];
  for (const tok of pattern.split(/\s+/)) {
    if (tok === "") continue;
    if (tok === WILDCARD) {
      runs.push([]);
      continue;
    }
    runs[runs.length - 1]?.push(...(tok.match(WORD) ?? []));
  }
  return runs.filter((r) => r.length > 0);
}

/** The query group selecting a template's lines; null when it has no literal words. */
export function patternQuery(p: { service: string; pattern: string }): string | null {
  const runs = patternRuns(p.pattern);
  if (runs.length === 0) return null;
  const svc = fieldTerm("service", p.service);
  if (svc === null) return null;
  return `(${[svc, ...runs.map((r) => `"${r.join(" ")}"`)].join(" ")})`;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** `term` standing on its own in `q` (between spaces or the ends). */
function standalone(term: string): RegExp {
  return new RegExp(`(^|\\s)${escape(term)}(?=\\s|$)`, "g");
}

/** Whether `q` includes (`in`) or excludes (`out`) the group, or neither. */
export function groupState(q: string, group: string): "in" | "out" | null {
  if (standalone(`-${group}`).test(q)) return "out";
  if (standalone(group).test(q)) return "in";
  return null;
}

/**
 * Adds the group (or `-group`) to `q`, dropping its opposite; adding what is
 * already there removes it (a toggle).
 */
export function toggleGroup(q: string, group: string, negate: boolean): string {
  const want = negate ? `-${group}` : group;
  const has = groupState(q, group) === (negate ? "out" : "in");
  const base = q
    .replace(standalone(`-${group}`), "$1")
    .replace(standalone(group), "$1")
    .replace(/\s+/g, " ")
    .trim();
  if (has) return base;
  // A top-level OR would bind the group to its last operand: parenthesise.
  const wrapped = /\bOR\b/.test(base) ? `(${base})` : base;
  return wrapped === "" ? want : `${wrapped} ${want}`;
}

/**
 * LogQL mode: a template as Loki's pattern filter (`|> "user <_> logged in"`, or
 * `!>` to exclude), Drain's `<*>` written as the pattern language's `<_>`. The
 * filter matches whole lines, so lines whose spacing differs from the template's
 * single spaces are not matched.
 */
export function patternStages(pattern: string, negate: boolean): [string, string] {
  const text = pattern.trim().split(/\s+/).map((t) => (t === WILDCARD ? "<_>" : t)).join(" ");
  const lit = JSON.stringify(text);
  return negate ? [`!> ${lit}`, `|> ${lit}`] : [`|> ${lit}`, `!> ${lit}`];
}
