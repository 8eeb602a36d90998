// The results: a virtualised list (only visible rows are in the DOM, so 100k
// lines stay smooth), one line per record; click to expand its fields with
// "filter for / filter out" on each value and the trace link.

import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { fieldTerm, type LogHit } from "../../api/logs";
import { Icon } from "../../components/Icon";
import { Link, TraceLink } from "../../components/Link";
import { AnsiText, LogText } from "../../components/LogText";
import { attrText, formatTimestamp, severityClass } from "../../lib/format";
import { useVirtualizer } from "../../lib/virtual";

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

function Details({ log, actions }: { log: LogHit; actions: ListActions }) {
  const attrs = Object.entries(log.attributes).sort(([a], [b]) => a.localeCompare(b));
  const level = severityClass(log.severity);
  return (
    <div class="log-details" data-testid="log-details" onClick={(e) => e.stopPropagation()}>
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
          {attrs.map(([k, v]) => {
            const text = attrText(v);
            return (
              <tr key={k}>
                <th>
                  <span class="facet-kind attr">attr</span> {k}
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
        </tbody>
      </table>
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
}

export function LogList({ hits, wrap, expanded, onToggle, actions, onEnd, resetKey, footer }: LogListProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const v = useVirtualizer({
    count: hits.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 24,
    overscan: 12,
    getItemKey: (i) => `${hits[i]?.timestamp ?? ""}|${i}`,
  });

  useEffect(() => {
    scroller.current?.scrollTo({ top: 0 });
  }, [resetKey]);

  // Re-measure when wrapping changes row heights.
  useEffect(() => {
    v.measure();
  }, [wrap]);

  const items = v.getVirtualItems();
  const last = items[items.length - 1];
  useEffect(() => {
    if (last !== undefined && last.index >= hits.length - 20) onEnd?.();
  }, [last?.index, hits.length]);

  return (
    <div class={`loglist${wrap ? " wrap" : ""}`} ref={scroller} id="logs-list" data-testid="logs-list" role="list">
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
                aria-expanded={open}
                onClick={() => {
                  if ((window.getSelection()?.toString() ?? "") !== "") return;
                  onToggle(item.index);
                }}
              >
                <span class={`sev-bar sev-${sev}`} aria-hidden="true" />
                <span class="col-time mono" title={log.timestamp}>
                  {formatTimestamp(log.timestamp)}
                </span>
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
