// Panel links and data links: their URLs with the dashboard's variables, the
// time range (`${__url_time_range}`, `${__from}`, `${__to}`) and, for data
// links, the value under the click (`${__value.raw}`, `${__value.numeric}`,
// `${__value.text}`, `${__value.time}`, `${__field.labels.X}`, `${__field.name}`,
// `${__series.name}`, `${__data.fields.X}`).

import { isObj, strOf, type Json } from "./grafana";
import { interpolate, type Scope } from "./interpolate";
import type { Series } from "./query";

export interface LinkTarget {
  title: string;
  href: string;
  blank: boolean;
}

export interface ValueContext {
  raw: number | string | null;
  text: string;
  /** Seconds. */
  time: number | null;
  series: Series | null;
}

function rangeParams(range: { start: number; end: number }): string {
  return `from=${range.start}&to=${range.end}`;
}

/**
 * Fills a link template: data-link fields first, then variables and time. In a URL
 * (`encode`) the values are percent-encoded; in a title they are as they are.
 */
export function fillLink(url: string, scope: Scope, range: { start: number; end: number }, value?: ValueContext, encode = true): string {
  let out = url.replace(/\$\{__url_time_range\}/g, rangeParams(range)).replace(/\$\{__from\}/g, String(range.start)).replace(/\$\{__to\}/g, String(range.end));
  if (value !== undefined) {
    const labels = value.series?.labels ?? {};
    out = out.replace(/\$\{(__value|__field|__series|__data)\.([^}]+)\}/g, (whole, head: string, path: string) => {
      let v: string | undefined;
      if (head === "__value") {
        v =
          path === "raw" || path === "numeric"
            ? value.raw === null
              ? ""
              : String(value.raw)
            : path === "text"
              ? value.text
              : path === "time" && value.time !== null
                ? String(Math.round(value.time * 1000))
                : undefined;
      } else if (head === "__field" || head === "__data") {
        const m = /^(?:fields\.)?labels\.(.+)$/.exec(path) ?? /^fields\.(.+)$/.exec(path);
        if (m) v = labels[m[1] ?? ""];
        else if (path === "name" || path === "displayName") v = value.series?.name;
      } else if (head === "__series" && path === "name") {
        v = value.series?.name;
      }
      if (v === undefined) return whole;
      return encode ? encodeURIComponent(v) : v;
    });
  }
  return interpolate(out, scope, encode ? "url" : "text");
}

export function linksOf(list: Json[], scope: Scope, range: { start: number; end: number }, value?: ValueContext): LinkTarget[] {
  return list.filter(isObj).map((l) => ({
    title: fillLink(strOf(l.title, strOf(l.url)), scope, range, value, false),
    href: fillLink(strOf(l.url), scope, range, value),
    blank: l.targetBlank === true,
  }));
}
