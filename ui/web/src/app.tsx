// The shell shared by every view: navigation, time picker, refresh, tenant,
// theme, error banner, shortcuts help; the view itself is loaded on demand.

import { useEffect, useState } from "preact/hooks";
import { alerts } from "./api/alerts";
import { currentTenant, TENANT_RE } from "./api/http";
import { tenantTitle, whoami } from "./api/status";
import { Icon } from "./components/Icon";
import { Link } from "./components/Link";
import { Loading, ErrorState } from "./components/States";
import { TimePicker } from "./components/TimePicker";
import { bannerErrors, clearAllErrors } from "./lib/errors";
import { useLoad } from "./lib/load";
import { REFRESH_OPTIONS, refreshNow, tick } from "./lib/refresh";
import { helpOpen, SHORTCUTS } from "./lib/shortcuts";
import { useStore } from "./lib/store";
import { theme, toggleTheme } from "./lib/theme";
import { matchRoute, updateParams, useLocation, type Match, type PageComponent, type RouteDef } from "./router";

export const ROUTES: RouteDef[] = [
  { pattern: "/", load: () => import("./pages/home") },
  { pattern: "/logs", load: () => import("./pages/logs") },
  { pattern: "/explore", load: () => import("./pages/explore") },
  { pattern: "/traces", load: () => import("./pages/traces") },
  { pattern: "/trace/:id", load: () => import("./pages/trace") },
  { pattern: "/services", load: () => import("./pages/services") },
  { pattern: "/services/:name", load: () => import("./pages/service") },
  { pattern: "/hosts", load: () => import("./pages/hosts") },
  { pattern: "/hosts/:instance", load: () => import("./pages/host") },
  { pattern: "/alerts", load: () => import("./pages/alerts") },
  { pattern: "/dashboards", load: () => import("./pages/dashboards") },
  { pattern: "/d/:id", load: () => import("./pages/dashboards/view") },
];

const NOT_FOUND: RouteDef = { pattern: "*", load: () => import("./pages/notfound") };

const NAV: { path: string; label: string; match: (p: string) => boolean }[] = [
  { path: "/", label: "Home", match: (p) => p === "/" },
  { path: "/logs", label: "Logs", match: (p) => p === "/logs" },
  { path: "/explore", label: "Metrics", match: (p) => p === "/explore" },
  { path: "/traces", label: "Traces", match: (p) => p === "/traces" || p.startsWith("/trace/") },
  { path: "/services", label: "Services", match: (p) => p === "/services" || p.startsWith("/services/") },
  { path: "/hosts", label: "Hosts", match: (p) => p === "/hosts" || p.startsWith("/hosts/") },
  { path: "/dashboards", label: "Dashboards", match: (p) => p === "/dashboards" || p.startsWith("/d/") },
  { path: "/alerts", label: "Alerts", match: (p) => p === "/alerts" },
];

/** The firing alerts' count beside the Alerts view's name (the tenant's rules). */
function FiringBadge() {
  const t = useStore(tick);
  const tenant = currentTenant();
  const firing = useLoad((s) => alerts(s).then((l) => l.filter((a) => a.state === "firing").length), [t, tenant], {
    label: "Could not load alerts",
  });
  const n = firing.data ?? 0;
  if (n === 0) return null;
  return (
    <span class="nav-badge" data-testid="nav-alerts-firing" title={`${n} firing`}>
      {n}
    </span>
  );
}

// Loaded page modules, so a revisit renders at once.
const loaded = new Map<RouteDef, PageComponent>();
const loading = new Map<RouteDef, Promise<PageComponent>>();

function loadPage(route: RouteDef): Promise<PageComponent> {
  let p = loading.get(route);
  if (p === undefined) {
    p = route.load().then((m) => {
      loaded.set(route, m.default);
      return m.default;
    });
    p.catch(() => loading.delete(route));
    loading.set(route, p);
  }
  return p;
}

/** Starts loading a view's code ahead of a click (nav hover). */
export function prefetch(path: string): void {
  const m = matchRoute(ROUTES, path);
  if (m !== null) void loadPage(m.route).catch(() => undefined);
}

function RouteView({ match }: { match: Match }) {
  const loc = useLocation();
  const [, setVersion] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const Page = loaded.get(match.route);
  useEffect(() => {
    setError(null);
    if (Page !== undefined) return;
    loadPage(match.route).then(
      () => setVersion((v) => v + 1),
      (e: unknown) => setError(e instanceof Error ? e.message : String(e)),
    );
  }, [match.route, Page]);
  if (error !== null) return <ErrorState title="Could not load this view" message={`${error}. Reload the page to try again.`} />;
  if (Page === undefined) return <Loading />;
  return <Page params={match.params} loc={loc} />;
}

const RECENT_TENANTS = "osprey.recentTenants";

function recentTenants(): string[] {
  try {
    const v = JSON.parse(window.localStorage.getItem(RECENT_TENANTS) ?? "[]") as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string" && TENANT_RE.test(x)).slice(0, 10) : [];
  } catch {
    return [];
  }
}

function rememberTenant(t: string): void {
  try {
    const list = [t, ...recentTenants().filter((x) => x !== t)].slice(0, 10);
    window.localStorage.setItem(RECENT_TENANTS, JSON.stringify(list));
  } catch {
    // Storage unavailable: nothing to remember.
  }
}

function TenantSwitcher() {
  const loc = useLocation();
  const current = loc.params.get("tenant") ?? "";
  const [value, setValue] = useState(current);
  const invalid = value !== "" && !TENANT_RE.test(value);
  // Who the requests act as: with a token, an empty field means its own tenant.
  const me = useLoad((s) => whoami(s), [current], { label: "Could not load who you are" }).data;
  useEffect(() => setValue(current), [current]);
  const commit = () => {
    const v = value.trim();
    if (v === current || (v !== "" && !TENANT_RE.test(v))) return;
    if (v !== "") rememberTenant(v);
    updateParams({ tenant: v === "" ? null : v });
  };
  const suggestions = [...new Set([...(me?.tenants ?? []), ...recentTenants()])];
  const own = me?.tenants?.[0] ?? "default";
  return (
    <label class={`tenant${invalid ? " invalid" : ""}`} title={invalid ? "1–64 characters of A–Z a–z 0–9 _ . -" : tenantTitle(me)}>
      <span class="tenant-label">Tenant</span>
      <input
        id="tenant"
        data-testid="tenant"
        data-acting={me?.tenant ?? ""}
        class="input mono"
        list="tenant-list"
        placeholder={own}
        value={value}
        size={10}
        spellcheck={false}
        autocomplete="off"
        onInput={(e) => setValue(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter") commit();
        }}
        onBlur={commit}
      />
      {me?.token ? (
        <span class="tenant-token" data-testid="tenant-token" data-token={me.token}>
          <Icon name="key" size={14} />
          <span class="tenant-token-name mono">{me.token}</span>
        </span>
      ) : null}
      <datalist id="tenant-list">
        {suggestions.map((t) => (
          <option key={t} value={t} />
        ))}
      </datalist>
    </label>
  );
}

function RefreshControls() {
  const loc = useLocation();
  const interval = loc.params.get("refresh") ?? "";
  return (
    <div class="btn-group">
      <button id="refresh-now" data-testid="refresh-now" type="button" class="btn" title="Refresh now ( r )" onClick={refreshNow}>
        <Icon name="refresh" />
        <span class="refresh-label">Refresh</span>
      </button>
      <select
        id="auto-refresh"
        data-testid="auto-refresh"
        class="btn select"
        aria-label="Auto-refresh interval"
        title="Auto-refresh"
        value={interval}
        onChange={(e) => updateParams({ refresh: e.currentTarget.value || null }, { replace: true })}
      >
        {REFRESH_OPTIONS.map((o) => (
          <option key={o} value={o}>
            {o === "" ? "Off" : o}
          </option>
        ))}
        {!REFRESH_OPTIONS.includes(interval as (typeof REFRESH_OPTIONS)[number]) && <option value={interval}>{interval}</option>}
      </select>
    </div>
  );
}

function useAutoRefresh(): void {
  const loc = useLocation();
  const interval = loc.params.get("refresh") ?? "";
  useEffect(() => {
    const m = /^(\d+)(s|m|h)$/.exec(interval);
    if (m === null) return;
    const ms = Number(m[1]) * (m[2] === "s" ? 1000 : m[2] === "m" ? 60_000 : 3_600_000);
    if (ms < 1000) return;
    const id = window.setInterval(() => {
      if (!document.hidden) refreshNow();
    }, ms);
    const onShow = () => {
      if (!document.hidden) refreshNow();
    };
    document.addEventListener("visibilitychange", onShow);
    return () => {
      window.clearInterval(id);
      document.removeEventListener("visibilitychange", onShow);
    };
  }, [interval]);
}

function ErrorBanner() {
  const errors = useStore(bannerErrors);
  return (
    <div id="error-banner" data-testid="error-banner" class="error-banner" role="alert" hidden={errors.length === 0}>
      <Icon name="alert" />
      <div class="error-messages">
        {errors.map((e) => (
          <p key={e.key} class="error-line">
            <strong>{e.label}: </strong>
            {e.message}
          </p>
        ))}
      </div>
      <button type="button" class="btn icon-only ghost" data-testid="error-dismiss" aria-label="Dismiss" onClick={clearAllErrors}>
        <Icon name="x" />
      </button>
    </div>
  );
}

function Help() {
  const open = useStore(helpOpen);
  if (!open) return null;
  return (
    <div class="modal-backdrop" onClick={() => helpOpen.set(false)}>
      <div class="modal" role="dialog" aria-label="Keyboard shortcuts" onClick={(e) => e.stopPropagation()}>
        <h2>Keyboard shortcuts</h2>
        <table class="shortcuts">
          <tbody>
            {SHORTCUTS.map(([k, d]) => (
              <tr key={k}>
                <td>
                  {k.split(" ").map((part, i) => (part === "" ? null : <kbd key={i}>{part}</kbd>))}
                </td>
                <td>{d}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <button type="button" class="btn" onClick={() => helpOpen.set(false)}>
          Close
        </button>
      </div>
    </div>
  );
}

export function App() {
  const loc = useLocation();
  const t = useStore(theme);
  useAutoRefresh();
  const match = matchRoute(ROUTES, loc.path) ?? { route: NOT_FOUND, params: {} };
  const tenant = currentTenant() ?? "";
  return (
    <div class="app">
      <header class="topbar">
        <Link to="/" class="brand" aria-label="Osprey home">
          <Icon name="logo" size={18} />
          <span id="app-title" data-testid="app-title">
            Osprey
          </span>
        </Link>
        <nav class="nav" aria-label="Views">
          {NAV.map((n) => (
            <Link
              key={n.path}
              to={n.path}
              class={n.match(loc.path) ? "nav-item active" : "nav-item"}
              aria-current={n.match(loc.path) ? "page" : undefined}
              data-testid={`nav-${n.label.toLowerCase()}`}
              onMouseEnter={() => prefetch(n.path)}
              onFocus={() => prefetch(n.path)}
            >
              {n.label}
              {n.path === "/alerts" && <FiringBadge />}
            </Link>
          ))}
        </nav>
        <div class="topbar-controls">
          <TenantSwitcher />
          <TimePicker />
          <RefreshControls />
          <button
            type="button"
            class="btn icon-only"
            data-testid="theme-toggle"
            title={`Switch to ${t === "dark" ? "light" : "dark"} theme ( t )`}
            aria-label="Toggle theme"
            onClick={toggleTheme}
          >
            <Icon name={t === "dark" ? "sun" : "moon"} />
          </button>
          <button type="button" class="btn icon-only" title="Keyboard shortcuts ( ? )" aria-label="Keyboard shortcuts" onClick={() => helpOpen.set(true)}>
            <Icon name="keyboard" />
          </button>
        </div>
      </header>
      <ErrorBanner />
      <main class="main" key={tenant}>
        <RouteView key={match.route.pattern} match={match} />
      </main>
      <Help />
    </div>
  );
}
