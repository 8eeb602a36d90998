import "./style.css";
import {
  ApiError,
  fetchLogCounts,
  fetchServices,
  searchLogs,
  type LogRecord,
  type LogSearchResult,
} from "./api";
import { clockTime, formatCount, formatTimestamp, severityClass } from "./format";

const REFRESH_INTERVAL_MS = 5_000;
const LOG_LIMIT = 100;
const SEARCH_DEBOUNCE_MS = 300;
const AUTO_REFRESH_KEY = "osprey.autoRefresh";

// ---------------------------------------------------------------------------
// DOM handles
// ---------------------------------------------------------------------------

function byId<T extends HTMLElement>(id: string, ctor: { new (): T }): T {
  const el = document.getElementById(id);
  if (!(el instanceof ctor)) throw new Error(`index.html is missing #${id}`);
  return el;
}

const dom = {
  autoRefresh: byId("auto-refresh", HTMLInputElement),
  refreshNow: byId("refresh-now", HTMLButtonElement),
  errorBanner: byId("error-banner", HTMLDivElement),
  errorMessages: byId("error-messages", HTMLDivElement),
  errorDismiss: byId("error-dismiss", HTMLButtonElement),
  servicesAll: byId("services-all", HTMLButtonElement),
  servicesList: byId("services-list", HTMLUListElement),
  servicesEmpty: byId("services-empty", HTMLParagraphElement),
  activeFilter: byId("active-filter", HTMLSpanElement),
  logsStatus: byId("logs-status", HTMLSpanElement),
  searchForm: byId("search-form", HTMLFormElement),
  searchInput: byId("search-input", HTMLInputElement),
  logsBody: byId("logs-body", HTMLTableSectionElement),
};

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

type ErrorSource = "services" | "logCounts" | "logs";

const ERROR_LABELS: Record<ErrorSource, string> = {
  services: "Could not load services",
  logCounts: "Could not load log counts",
  logs: "Could not load logs",
};

interface State {
  selectedService: string | null;
  query: string;
  autoRefresh: boolean;
  /** Services seen in spans (last successful answer). */
  spanServices: string[];
  /** Log record counts per service (last successful answer). */
  logCounts: Map<string, number>;
  /** Whether `logCounts` ever loaded (until then counts are shown as unknown). */
  logCountsLoaded: boolean;
  logs: LogRecord[];
  matched: number | null;
  logsLoaded: boolean;
  lastUpdated: Date | null;
  errors: Map<ErrorSource, string>;
  /** Keys of log rows whose details are expanded. */
  expanded: Set<string>;
}

const initialParams = new URLSearchParams(window.location.search);

const state: State = {
  selectedService: initialParams.get("service") || null,
  query: initialParams.get("q") ?? "",
  autoRefresh: readAutoRefreshPreference(),
  spanServices: [],
  logCounts: new Map(),
  logCountsLoaded: false,
  logs: [],
  matched: null,
  logsLoaded: false,
  lastUpdated: null,
  errors: new Map(),
  expanded: new Set(),
};

function readAutoRefreshPreference(): boolean {
  try {
    return window.localStorage.getItem(AUTO_REFRESH_KEY) !== "off";
  } catch {
    return true;
  }
}

function saveAutoRefreshPreference(on: boolean): void {
  try {
    window.localStorage.setItem(AUTO_REFRESH_KEY, on ? "on" : "off");
  } catch {
    // Storage may be unavailable (privacy mode); the toggle still works for this page.
  }
}

/** Mirrors the filters into the address bar so a view can be shared or reloaded. */
function syncUrl(): void {
  const params = new URLSearchParams(window.location.search);
  if (state.selectedService !== null) params.set("service", state.selectedService);
  else params.delete("service");
  if (state.query !== "") params.set("q", state.query);
  else params.delete("q");
  const qs = params.toString();
  const url = `${window.location.pathname}${qs === "" ? "" : `?${qs}`}${window.location.hash}`;
  window.history.replaceState(null, "", url);
}

// ---------------------------------------------------------------------------
// Requests: each lane keeps only its newest request alive.
// ---------------------------------------------------------------------------

class Lane {
  private controller: AbortController | null = null;

  /** Aborts the lane's previous request and returns a signal for the new one. */
  start(): AbortSignal {
    this.controller?.abort();
    this.controller = new AbortController();
    return this.controller.signal;
  }
}

function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}

function describeError(e: unknown): string {
  if (e instanceof ApiError) return `${e.message} (${e.endpoint})`;
  if (e instanceof Error) return e.message;
  return String(e);
}

function setError(source: ErrorSource, e: unknown): void {
  state.errors.set(source, describeError(e));
  renderErrors();
}

function clearError(source: ErrorSource): void {
  if (state.errors.delete(source)) renderErrors();
}

const servicesLane = new Lane();
const countsLane = new Lane();
const logsLane = new Lane();

async function refreshServices(): Promise<void> {
  const signal = servicesLane.start();
  try {
    state.spanServices = await fetchServices(signal);
    clearError("services");
  } catch (e) {
    if (isAbort(e)) return;
    setError("services", e);
  }
  renderServices();
}

async function refreshLogCounts(): Promise<void> {
  const signal = countsLane.start();
  try {
    state.logCounts = await fetchLogCounts(signal);
    state.logCountsLoaded = true;
    clearError("logCounts");
  } catch (e) {
    if (isAbort(e)) return;
    setError("logCounts", e);
  }
  renderServices();
}

async function refreshLogs(): Promise<void> {
  const signal = logsLane.start();
  let result: LogSearchResult;
  try {
    result = await searchLogs(
      { query: state.query, service: state.selectedService, limit: LOG_LIMIT },
      signal,
    );
  } catch (e) {
    if (isAbort(e)) return;
    setError("logs", e);
    renderLogs();
    return;
  }
  clearError("logs");
  state.logs = result.logs;
  state.matched = result.matched;
  state.logsLoaded = true;
  state.lastUpdated = new Date();
  renderLogs();
}

async function refreshAll(): Promise<void> {
  await Promise.all([refreshServices(), refreshLogCounts(), refreshLogs()]);
}

// ---------------------------------------------------------------------------
// Auto-refresh: the next round is scheduled only after the current one ends,
// so slow answers never pile up.
// ---------------------------------------------------------------------------

let timer: number | undefined;

function scheduleNext(): void {
  window.clearTimeout(timer);
  timer = undefined;
  if (!state.autoRefresh) return;
  timer = window.setTimeout(() => {
    void tick();
  }, REFRESH_INTERVAL_MS);
}

async function tick(): Promise<void> {
  // Skip work while the tab is hidden; catch up as soon as it is shown again.
  if (!document.hidden) await refreshAll();
  scheduleNext();
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && state.autoRefresh) void tick();
});

// ---------------------------------------------------------------------------
// Rendering (textContent only: log data is never interpreted as HTML)
// ---------------------------------------------------------------------------

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; title?: string } = {},
  ...children: Node[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className !== undefined) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  if (props.title !== undefined) node.title = props.title;
  node.append(...children);
  return node;
}

function renderErrors(): void {
  const entries = [...state.errors.entries()];
  dom.errorBanner.hidden = entries.length === 0;
  dom.errorMessages.replaceChildren(
    ...entries.map(([source, message]) =>
      el(
        "p",
        { className: "error-line" },
        el("strong", { text: `${ERROR_LABELS[source]}: ` }),
        document.createTextNode(message),
      ),
    ),
  );
}

function renderServices(): void {
  const names = new Set<string>([...state.spanServices, ...state.logCounts.keys()]);
  if (state.selectedService !== null) names.add(state.selectedService);
  const spanSet = new Set(state.spanServices);
  const sorted = [...names].sort((a, b) => a.localeCompare(b));

  const items = sorted.map((name) => {
    const count = state.logCounts.get(name) ?? 0;
    const known = state.logCountsLoaded;
    const selected = name === state.selectedService;
    const notes = [
      known ? `${formatCount(count)} log record${count === 1 ? "" : "s"}` : "log count unknown",
    ];
    if (spanSet.has(name)) notes.push("seen in traces");

    const button = el(
      "button",
      { className: "service-item", title: notes.join(" · ") },
      el("span", { className: "service-name", text: name === "" ? "(unknown)" : name }),
      el("span", {
        className: !known || count === 0 ? "service-count zero" : "service-count",
        text: known ? formatCount(count) : "–",
      }),
    );
    button.type = "button";
    button.dataset.service = name;
    button.dataset.testid = "service-item";
    button.setAttribute("aria-pressed", String(selected));
    if (selected) button.classList.add("selected");
    if (spanSet.has(name)) button.classList.add("has-traces");

    const li = el("li", {}, button);
    li.dataset.service = name;
    return li;
  });

  dom.servicesList.replaceChildren(...items);
  dom.servicesEmpty.hidden = items.length > 0;
  dom.servicesAll.setAttribute("aria-pressed", String(state.selectedService === null));
  dom.servicesAll.disabled = state.selectedService === null;
}

function logKey(log: LogRecord): string {
  return `${log.timestamp}|${log.service}|${log.span_id}|${log.body.slice(0, 64)}`;
}

function detailsRow(log: LogRecord): HTMLTableRowElement {
  const dl = el("dl", { className: "log-details" });
  const add = (k: string, v: string) => {
    dl.append(el("dt", { text: k }), el("dd", { text: v }));
  };
  add("timestamp", log.timestamp);
  if (log.trace_id !== "") add("trace_id", log.trace_id);
  if (log.span_id !== "") add("span_id", log.span_id);
  const attrs = Object.entries(log.attributes).sort(([a], [b]) => a.localeCompare(b));
  for (const [k, v] of attrs) add(k, typeof v === "string" ? v : JSON.stringify(v));
  if (attrs.length === 0) add("attributes", "(none)");

  const td = el("td", {}, dl);
  td.colSpan = 5;
  const tr = el("tr", { className: "details-row" }, td);
  tr.dataset.testid = "log-details";
  return tr;
}

function renderLogs(): void {
  const frag = document.createDocumentFragment();

  if (state.logs.length === 0) {
    const td = el("td", {
      className: "empty",
      text: state.logsLoaded
        ? "No log records match."
        : state.errors.has("logs")
          ? "Could not load logs (see the error above)."
          : "Loading…",
    });
    td.colSpan = 5;
    const tr = el("tr", {}, td);
    tr.dataset.testid = "logs-empty";
    frag.append(tr);
  }

  for (const log of state.logs) {
    const key = logKey(log);
    const sev = severityClass(log.severity);

    const serviceButton = el("button", {
      className: "link-button",
      text: log.service === "" ? "(unknown)" : log.service,
      title: `Show only ${log.service}`,
    });
    serviceButton.type = "button";
    serviceButton.dataset.service = log.service;

    const traceCell =
      log.trace_id === ""
        ? el("td", { className: "col-trace muted", text: "—" })
        : el("td", { className: "col-trace mono", text: log.trace_id, title: log.trace_id });

    const tr = el(
      "tr",
      { className: `log-row sev-row-${sev}` },
      el("td", {
        className: "col-time mono",
        text: formatTimestamp(log.timestamp),
        title: log.timestamp,
      }),
      el("td", { className: "col-service" }, serviceButton),
      el(
        "td",
        { className: "col-severity" },
        el("span", { className: `sev sev-${sev}`, text: log.severity || "—" }),
      ),
      el("td", { className: "col-body", text: log.body }),
      traceCell,
    );
    tr.dataset.testid = "log-row";
    tr.dataset.key = key;
    tr.dataset.severity = sev;
    tr.setAttribute("aria-expanded", String(state.expanded.has(key)));
    frag.append(tr);
    if (state.expanded.has(key)) frag.append(detailsRow(log));
  }

  dom.logsBody.replaceChildren(frag);
  renderLogsStatus();
  renderFilter();
}

function renderLogsStatus(): void {
  if (!state.logsLoaded) {
    dom.logsStatus.textContent = "";
    return;
  }
  const shown = state.logs.length;
  let text =
    state.matched !== null && state.matched > shown
      ? `${formatCount(shown)} of ${formatCount(state.matched)} matched`
      : `${formatCount(shown)} record${shown === 1 ? "" : "s"}`;
  if (state.lastUpdated !== null) text += ` · updated ${clockTime(state.lastUpdated)}`;
  dom.logsStatus.textContent = text;
}

function renderFilter(): void {
  const parts: string[] = [];
  if (state.selectedService !== null) parts.push(`service = ${state.selectedService}`);
  if (state.query !== "") parts.push(`terms: ${state.query}`);
  dom.activeFilter.hidden = parts.length === 0;
  dom.activeFilter.textContent = parts.join(" · ");
}

// ---------------------------------------------------------------------------
// Interaction
// ---------------------------------------------------------------------------

/** Drops the rows of the previous filter so they are never mistaken for the new one's. */
function filtersChanged(): void {
  state.expanded.clear();
  state.logs = [];
  state.matched = null;
  state.logsLoaded = false;
  syncUrl();
  renderServices();
  renderLogs();
  dom.logsStatus.textContent = "Loading…";
  void refreshLogs();
}

function selectService(name: string | null): void {
  state.selectedService = state.selectedService === name ? null : name;
  filtersChanged();
}

function setQuery(query: string): void {
  const q = query.trim();
  if (q === state.query) return;
  state.query = q;
  filtersChanged();
}

dom.servicesList.addEventListener("click", (ev) => {
  const target = ev.target instanceof Element ? ev.target.closest("button[data-service]") : null;
  if (target instanceof HTMLButtonElement && target.dataset.service !== undefined) {
    selectService(target.dataset.service);
  }
});

dom.servicesAll.addEventListener("click", () => selectService(null));

dom.logsBody.addEventListener("click", (ev) => {
  if (!(ev.target instanceof Element)) return;
  const serviceButton = ev.target.closest("button[data-service]");
  if (serviceButton instanceof HTMLButtonElement && serviceButton.dataset.service !== undefined) {
    // Clicking a service inside the table filters to it (never toggles it off).
    if (state.selectedService !== serviceButton.dataset.service) {
      selectService(serviceButton.dataset.service);
    }
    return;
  }
  // Let people select text in a row without toggling it.
  if ((window.getSelection()?.toString() ?? "") !== "") return;
  const row = ev.target.closest("tr.log-row");
  if (row instanceof HTMLTableRowElement && row.dataset.key !== undefined) {
    const key = row.dataset.key;
    if (state.expanded.has(key)) state.expanded.delete(key);
    else state.expanded.add(key);
    renderLogs();
  }
});

let debounce: number | undefined;

dom.searchInput.addEventListener("input", () => {
  window.clearTimeout(debounce);
  debounce = window.setTimeout(() => setQuery(dom.searchInput.value), SEARCH_DEBOUNCE_MS);
});

dom.searchForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  window.clearTimeout(debounce);
  const q = dom.searchInput.value.trim();
  if (q === state.query) void refreshLogs();
  else setQuery(q);
});

dom.autoRefresh.addEventListener("change", () => {
  state.autoRefresh = dom.autoRefresh.checked;
  saveAutoRefreshPreference(state.autoRefresh);
  if (state.autoRefresh) void tick();
  else scheduleNext();
});

dom.refreshNow.addEventListener("click", () => {
  void refreshAll();
});

dom.errorDismiss.addEventListener("click", () => {
  state.errors.clear();
  renderErrors();
});

// ---------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------

dom.searchInput.value = state.query;
dom.autoRefresh.checked = state.autoRefresh;
renderServices();
renderLogs();
renderErrors();
void tick();
