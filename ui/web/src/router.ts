// A small history router: the whole UI state lives in the URL (path + query),
// so every view can be pasted into an incident channel and back/forward walk
// through it. Components subscribe with `useLocation()`; changes go through
// `navigate()` / `updateParams()`.

import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";

export interface Loc {
  path: string;
  params: URLSearchParams;
  /** path + search, for keys and links. */
  href: string;
}

function read(): Loc {
  const { pathname, search } = window.location;
  return { path: pathname, params: new URLSearchParams(search), href: pathname + search };
}

let current = read();
const listeners = new Set<(l: Loc) => void>();

function emit(): void {
  const next = read();
  if (next.href === current.href) return;
  current = next;
  for (const l of listeners) l(current);
}

window.addEventListener("popstate", emit);

export function location(): Loc {
  return current;
}

export function useLocation(): Loc {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    listeners.add(setLoc);
    // Catch a change between render and subscription.
    if (current.href !== loc.href) setLoc(current);
    return () => {
      listeners.delete(setLoc);
    };
  }, []);
  return loc;
}

export interface NavOptions {
  /** Replace the current history entry instead of pushing a new one. */
  replace?: boolean;
}

export function navigate(href: string, opts: NavOptions = {}): void {
  const url = new URL(href, window.location.href);
  const target = url.pathname + url.search + url.hash;
  if (target === current.href && url.hash === window.location.hash) return;
  if (opts.replace) window.history.replaceState(null, "", target);
  else window.history.pushState(null, "", target);
  emit();
}

/**
 * A query string that stays readable when pasted into a chat: `:` `/` `,` `@`
 * `[` `]` left as they are, spaces as `+` (what URLSearchParams reads back).
 */
export function serialize(params: URLSearchParams): string {
  const enc = (s: string) =>
    encodeURIComponent(s)
      .replace(/%20/g, "+")
      .replace(/%3A/gi, ":")
      .replace(/%2F/gi, "/")
      .replace(/%2C/gi, ",")
      .replace(/%40/g, "@")
      .replace(/%5B/gi, "[")
      .replace(/%5D/gi, "]");
  const parts: string[] = [];
  params.forEach((v, k) => parts.push(`${enc(k)}=${enc(v)}`));
  return parts.join("&");
}

/** Sets (string) or removes (null/"") query parameters of the current URL. */
export function updateParams(patch: Record<string, string | null | undefined>, opts: NavOptions = {}): void {
  const params = new URLSearchParams(window.location.search);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || v === undefined || v === "") params.delete(k);
    else params.set(k, v);
  }
  const qs = serialize(params);
  navigate(`${window.location.pathname}${qs === "" ? "" : `?${qs}`}`, opts);
}

/** Parameters that follow the user from view to view. */
export const STICKY_PARAMS = ["from", "to", "tenant", "refresh"] as const;

/** A link to `path` keeping the sticky parameters, plus `extra`. */
export function hrefTo(path: string, extra: Record<string, string | null | undefined> = {}): string {
  const cur = new URLSearchParams(window.location.search);
  const params = new URLSearchParams();
  for (const k of STICKY_PARAMS) {
    const v = cur.get(k);
    if (v !== null && v !== "") params.set(k, v);
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === null || v === undefined || v === "") params.delete(k);
    else params.set(k, v);
  }
  const qs = serialize(params);
  return `${path}${qs === "" ? "" : `?${qs}`}`;
}

/** Click handler for same-origin links: history navigation unless a modifier asks for a new tab. */
export function onLinkClick(ev: MouseEvent): void {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.currentTarget;
  if (!(a instanceof HTMLAnchorElement) || a.target === "_blank" || a.hasAttribute("download")) return;
  const url = new URL(a.href);
  if (url.origin !== window.location.origin) return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
}

// ---------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------

export interface Match {
  route: RouteDef;
  params: Record<string, string>;
}

export interface RouteDef {
  pattern: string;
  /** Loads the page module on demand (its default export is the page). */
  load: () => Promise<{ default: PageComponent }>;
}

export interface PageProps {
  params: Record<string, string>;
  loc: Loc;
}

export type PageComponent = (props: PageProps) => ComponentChildren;

/** Matches `/services/:name` style patterns; segments are URI-decoded. */
export function matchRoute(routes: RouteDef[], path: string): Match | null {
  const segs = path.split("/").filter((s) => s !== "");
  for (const route of routes) {
    const pat = route.pattern.split("/").filter((s) => s !== "");
    if (pat.length !== segs.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < pat.length; i++) {
      const p = pat[i] ?? "";
      const s = segs[i] ?? "";
      if (p.startsWith(":")) {
        try {
          params[p.slice(1)] = decodeURIComponent(s);
        } catch {
          ok = false;
          break;
        }
      } else if (p !== s) {
        ok = false;
        break;
      }
    }
    if (ok) return { route, params };
  }
  return null;
}
