// The results: a virtualised list (only visible rows are in the DOM, so 100k
// lines stay smooth), one line per record; click to expand its fields and
// resource attributes with "filter for / filter out" on each value, the trace
// link and the lines around it in its stream. The live tail uses the same list
// following its end (`follow`).

import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { fieldTerm, type LogHit } from "../../api/logs";
import { Icon } from "../../components/Icon";
import { Link, TraceLink } from "../../components/Link";
import { AnsiText, LogText } from "../../components/LogText";
import { attrText, formatTimestamp, severityClass } from "../../lib/format";
import { useVirtualizer } from "../../lib/virtual";
import { ContextView } from "./Context";

export interface ListActions {
  /** Filter for/out `key:value` in the search language (key as written in a query). */
  filter: (key: string, value: string, negate: boolean) => void;
  service: (name: string) => void;
}

function FilterButtons({ k, v, actions }: { k: string; v: string; actions: ListActions }) {
  if (fieldTerm(k, v) === null) return null;
  return (
    <span class="kv-actions">
      <button type="button" class="icon-button" title={`Filter for ${k} = ${v}`} aria-label="Filter for" onClick={() => actions.filter(k, v, false)}>
        <Icon name="plus" size={12} />
      </button>
      <button type="button" class="icon-button" title={`Filter out ${k} = ${v}`} aria-label="Filter out" onClick={() => actions.filter(k, v, true)}>
        <Icon name="minus" size={12} />
      </button>
    </span>
  );
}

/** A JSON object body, indented for reading; null when the body is not one. */
function prettyJson(body: string): string | null {
  const t = body.trim();
  if (!t.startsWith("{") || !t.endsWith("}") || t.length > 100_000) return null;
  try {
    const v: unknown = JSON.parse(t);
    return typeof v === "object" && v !== null ? JSON.stringify(v, null, 2) : null;
  } catch {
    return null;
  }
}

function AttrRows({ entries, kind, actions }: { entries: [string, unknown][]; kind: "attr" | "res"; actions: ListActions }) {
  return (
    <>
      {entries.map(([k, v]) => {
        const text = attrText(v);
        return (
          <tr key={`${kind}:${k}`} data-testid={kind === "res" ? "resource-attr" : "record-attr"} data-key={k}>
            <th>
              <span class={`facet-kind ${kind}`}>{kind}</span> {k}
            </th>
            <td class="mono">
              <AnsiText text={text} />
            </td>
            <td>
              <FilterButtons k={k} v={text} actions={actions} />
            </td>
          </tr>
        );
      })}
    </>
  );
}

function Details({ log, actions }: { log: LogHit; actions: ListActions }) {
  const [context, setContext] = useState(false);
  const attrs = Object.entries(log.attributes).sort(([a], [b]) => a.localeCompare(b));
  const resource = Object.entries(log.resource).sort(([a], [b]) => a.localeCompare(b));
  const level = severityClass(log.severity);
  return (
    <div class="log-details" data-testid="log-details" onClick={(e) => e.stopPropagation()}>
      <div class="details-actions">
        <button type="button" class="btn small" data-testid="show-context" aria-pressed={context} onClick={() => setContext(!context)} title="The lines before and after this one in the same stream">
          {context ? "Hide context" : "Show context"}
        </button>
      </div>
      {context && <ContextView log={log} />}
      <pre class="log-full mono">
        <LogText text={prettyJson(log.body) ?? log.body} clamp={20_000} />
      </pre>
      <table class="fields">
        <tbody>
          <tr>
            <th>timestamp</th>
            <td class="mono">{log.timestamp}</td>
            <td />
          </tr>
          <tr>
            <th>service</th>
            <td>
              <span class="mono">{log.service}</span>{" "}
              {log.service !== "" && (
                <Link to={`/services/${encodeURIComponent(log.service)}`} class="small">
                  service →
                </Link>
              )}
            </td>
            <td>
              <span class="kv-actions">
                <button type="button" class="icon-button" title={`Only ${log.service}`} aria-label="Filter for" onClick={() => actions.service(log.service)}>
                  <Icon name="plus" size={12} />
                </button>
                <button type="button" class="icon-button" title={`Filter out ${log.service}`} aria-label="Filter out" onClick={() => actions.filter("service", log.service, true)}>
                  <Icon name="minus" size={12} />
                </button>
              </span>
            </td>
          </tr>
          <tr>
            <th>severity</th>
            <td>
              <span class={`sev sev-${level}`}>{log.severity || "—"}</span>
            </td>
            <td>{level !== "unknown" && <FilterButtons k="severity" v={level} actions={actions} />}</td>
          </tr>
          {log.trace_id !== "" && (
            <tr>
              <th>trace_id</th>
              <td>
                <TraceLink id={log.trace_id} />{" "}
                <span class="faint small">· opens the trace</span>
              </td>
              <td>
                <FilterButtons k="trace_id" v={log.trace_id} actions={actions} />
              </td>
            </tr>
          )}
          {log.span_id !== "" && (
            <tr>
              <th>span_id</th>
              <td class="mono">{log.span_id}</td>
              <td>
                <FilterButtons k="span_id" v={log.span_id} actions={actions} />
              </td>
            </tr>
          )}
          <AttrRows entries={attrs} kind="attr" actions={actions} />
        </tbody>
        {resource.length > 0 && (
          <tbody data-testid="resource-attrs">
            <tr class="fields-section">
              <th colSpan={3}>Resource</th>
            </tr>
            <AttrRows entries={resource} kind="res" actions={actions} />
          </tbody>
        )}
      </table>
    </div>
  );
}

/** The column titles above a list. */
export function ListHead() {
  return (
    <div class="loglist-head caps" aria-hidden="true">
      <span />
      <span>Time (UTC)</span>
      <span>Level</span>
      <span>Service</span>
      <span>Message</span>
    </div>
  );
}

export interface LogListProps {
  hits: LogHit[];
  wrap: boolean;
  expanded: ReadonlySet<number>;
  onToggle: (index: number) => void;
  actions: ListActions;
  /** Called when the end of the list comes into view (load older lines). */
  onEnd?: () => void;
  /** Changes when a new search starts: scroll back to the top. */
  resetKey: string;
  footer?: ComponentChildren;
  /** A stable key per row (default: timestamp and index). */
  keyOf?: (index: number) => string;
  /** Keep the end of the list in view (live tail). */
  follow?: boolean;
  onScroll?: (el: HTMLDivElement) => void;
}

/** A collapsed row's height: a 24 px line and its 1 px border. */
const ROW_HEIGHT = 25;
const estimateRow = () => ROW_HEIGHT;

export function LogList({ hits, wrap, expanded, onToggle, actions, onEnd, resetKey, footer, keyOf, follow, onScroll }: LogListProps) {
  const scroller = useRef<HTMLDivElement>(null);
  // Both stable across renders: a new key function makes the list recompute the
  // position of every row (100k rows: a long task per render), and a wrong estimate
  // makes every first-measured row move the rest.
  const defaultKey = useCallback((i: number) => `${hits[i]?.timestamp ?? ""}|${i}`, [hits]);
  const v = useVirtualizer({
    count: hits.length,
    getScrollElement: () => scroller.current,
    estimateSize: estimateRow,
    overscan: 12,
    getItemKey: keyOf ?? defaultKey,
  });

  useEffect(() => {
    scroller.current?.scrollTo({ top: 0 });
  }, [resetKey]);

  // Following: after every render (new lines, rows measured) the end is in view.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (follow && el !== null && el.scrollHeight - el.clientHeight - el.scrollTop > 1) el.scrollTop = el.scrollHeight;
  });

  // Re-measure when wrapping changes row heights.
  useEffect(() => {
    v.measure();
  }, [wrap]);

  // A record just opened near the bottom: scroll its details into view (its top stays).
  const opened = useRef<number | null>(null);
  useEffect(() => {
    const i = opened.current;
    opened.current = null;
    if (i === null) return;
    const t = window.setTimeout(() => {
      const sc = scroller.current;
      const el = sc?.querySelector<HTMLElement>(`[data-index="${i}"]`);
      if (!sc || !el) return;
      const r = el.getBoundingClientRect();
      const box = sc.getBoundingClientRect();
      if (r.bottom > box.bottom) sc.scrollTop += Math.min(r.bottom - box.bottom, r.top - box.top);
    }, 60);
    return () => window.clearTimeout(t);
  }, [expanded]);

  const items = v.getVirtualItems();
  const last = items[items.length - 1];
  useEffect(() => {
    if (last !== undefined && last.index >= hits.length - 20) onEnd?.();
  }, [last?.index, hits.length]);

  return (
    <div
      class={`loglist${wrap ? " wrap" : ""}`}
      ref={scroller}
      id="logs-list"
      data-testid="logs-list"
      role="list"
      onScroll={onScroll === undefined ? undefined : (e) => onScroll(e.currentTarget)}
    >
      <div class="loglist-inner" style={{ height: `${v.getTotalSize()}px` }}>
        {items.map((item) => {
          const log = hits[item.index];
          if (log === undefined) return null;
          const sev = severityClass(log.severity);
          const open = expanded.has(item.index);
          return (
            <div
              key={item.key}
              data-index={item.index}
              ref={(el) => {
                if (el) v.measureElement(el);
              }}
              class={`logrow-wrap${open ? " open" : ""}`}
              style={{ transform: `translateY(${item.start}px)` }}
              role="listitem"
            >
              <div
                class={`logrow sev-row-${sev}`}
                data-testid="log-row"
                data-severity={sev}
                onClick={() => {
                  if ((window.getSelection()?.toString() ?? "") !== "") return;
                  if (!open) opened.current = item.index;
                  onToggle(item.index);
                }}
              >
                <span class={`sev-bar sev-${sev}`} aria-hidden="true" />
                {/* The row toggles on a click anywhere; its time is the keyboard's way in. */}
                <button type="button" class="col-time mono plain-button" title={`${log.timestamp}: ${open ? "hide" : "show"} details`} aria-expanded={open}>
                  {formatTimestamp(log.timestamp)}
                </button>
                <span class={`col-level sev-${sev}`}>{(log.severity || "—").slice(0, 5)}</span>
                <span class="col-service">
                  <button
                    type="button"
                    class="service-link"
                    data-service={log.service}
                    title={`Only ${log.service}`}
                    onClick={(e) => {
                      e.stopPropagation();
                      actions.service(log.service);
                    }}
                  >
                    {log.service === "" ? "(unknown)" : log.service}
                  </button>
                </span>
                <span class="col-body mono">{wrap ? <LogText text={log.body} /> : <AnsiText text={log.body.length > 2000 ? log.body.slice(0, 2000) : log.body} />}</span>
              </div>
              {open && <Details log={log} actions={actions} />}
            </div>
          );
        })}
      </div>
      {footer}
    </div>
  );
}
