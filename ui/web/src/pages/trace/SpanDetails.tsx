// One span in full: timing, status, attributes with their types, events,
// links, the process (resource) tags, and links to its logs.

import type { JaegerKeyValue } from "../../api/jaeger";
import { Icon } from "../../components/Icon";
import { Link } from "../../components/Link";
import { attrText, plural } from "../../lib/format";
import { formatUtc, toUrlTime } from "../../lib/time";
import { formatMicros, serviceColor, tagValue, type SpanNode, type TraceTree } from "../../lib/trace";

function TagTable({ tags, testId }: { tags: JaegerKeyValue[]; testId?: string }) {
  if (tags.length === 0) return <p class="faint small sd-none">None.</p>;
  const sorted = [...tags].sort((a, b) => a.key.localeCompare(b.key));
  return (
    <table class="sd-tags" data-testid={testId}>
      <tbody>
        {sorted.map((t, i) => (
          <tr key={`${t.key}-${i}`} data-key={t.key}>
            <th class="mono" title={t.key}>
              {t.key}
            </th>
            <td>
              <span class={`type-badge type-${t.type}`}>{t.type}</span>
            </td>
            <td class={`mono sd-value${t.key === "error" || t.value === "ERROR" ? " sev-error" : ""}`}>{attrText(t.value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Logs search around the trace's time (the picker's range may not cover it). */
function logsParams(tree: TraceTree, q: string): Record<string, string> {
  const from = tree.start / 1000 - 60_000;
  const to = tree.end / 1000 + 60_000;
  return { q, from: toUrlTime(from), to: toUrlTime(to) };
}

export function SpanDetails({
  node,
  tree,
  processTags,
  onSelect,
  onClose,
}: {
  node: SpanNode;
  tree: TraceTree;
  processTags: JaegerKeyValue[];
  onSelect: (spanID: string) => void;
  onClose: () => void;
}) {
  const s = node.span;
  const kind = tagValue(s.tags, "span.kind");
  const status = tagValue(s.tags, "otel.status_code");
  const statusMsg = tagValue(s.tags, "otel.status_description");
  const links = s.references.filter((r) => r.refType !== "CHILD_OF" || node.parent === null);
  const byId = new Map(tree.nodes.map((n) => [n.span.spanID, n]));
  return (
    <aside class="panel span-details" data-testid="span-details" aria-label="Span details">
      <div class="panel-header sd-header">
        <span class="swatch" style={{ background: serviceColor(node.service) }} />
        <div class="sd-title">
          <strong data-testid="span-details-operation">{s.operationName}</strong>
          <span class="muted small">{node.service || "(unknown service)"}</span>
        </div>
        <span class="spacer" />
        <button type="button" class="btn icon-only ghost" aria-label="Close span details" title="Close (Esc)" onClick={onClose}>
          <Icon name="x" />
        </button>
      </div>
      <div class="sd-body">
        <dl class="sd-facts">
          <dt>Duration</dt>
          <dd class="mono" data-testid="span-details-duration">
            {formatMicros(s.duration)}
            <span class="faint"> · {s.duration.toLocaleString("en-US")} µs</span>
          </dd>
          <dt>Start</dt>
          <dd class="mono">
            +{formatMicros(node.start - tree.start)} <span class="faint">· {formatUtc(node.start / 1000, true)} UTC</span>
          </dd>
          <dt>Status</dt>
          <dd>
            {node.error ? (
              <span class="badge error">
                <Icon name="alert" size={12} /> error
              </span>
            ) : (
              <span class="badge">{status === undefined ? "unset" : String(status).toLowerCase()}</span>
            )}
            {statusMsg !== undefined && <span class="sd-status-msg">{attrText(statusMsg)}</span>}
          </dd>
          {kind !== undefined && (
            <>
              <dt>Kind</dt>
              <dd>{attrText(kind)}</dd>
            </>
          )}
          <dt>Span ID</dt>
          <dd class="mono" data-testid="span-details-id">
            {s.spanID}
          </dd>
          <dt>Parent</dt>
          <dd class="mono">
            {node.parent === null ? (
              <span class="faint">root</span>
            ) : (
              <button type="button" class="link-button mono" onClick={() => onSelect(node.parent?.span.spanID ?? "")}>
                {node.parent.span.spanID}
              </button>
            )}
          </dd>
          <dt>Children</dt>
          <dd>
            {plural(node.children.length, "child", "children")}
            {node.descendants > node.children.length ? <span class="faint"> · {plural(node.descendants, "span")} below</span> : null}
          </dd>
        </dl>
        <div class="sd-actions">
          <Link class="btn small" to="/logs" params={logsParams(tree, `span_id:${s.spanID}`)} data-testid="span-logs-link">
            <Icon name="logs" size={14} /> Logs for this span
          </Link>
          <Link class="btn small" to="/logs" params={logsParams(tree, `trace_id:${tree.traceID}`)}>
            <Icon name="logs" size={14} /> Logs for this trace
          </Link>
        </div>

        <h2>
          Attributes <span class="faint">{s.tags.length}</span>
        </h2>
        <TagTable tags={s.tags} testId="span-attributes" />

        <h2>
          Events <span class="faint">{s.logs.length}</span>
        </h2>
        {s.logs.length === 0 ? (
          <p class="faint small sd-none">None.</p>
        ) : (
          <ol class="sd-events" data-testid="span-events">
            {[...s.logs]
              .sort((a, b) => a.timestamp - b.timestamp)
              .map((l, i) => {
                const name = l.fields.find((f) => f.key === "event");
                return (
                  <li key={i}>
                    <div class="sd-event-head">
                      <span class="mono faint">+{formatMicros(l.timestamp - node.start)}</span>
                      <strong>{name === undefined ? "event" : attrText(name.value)}</strong>
                    </div>
                    <TagTable tags={l.fields.filter((f) => f !== name)} />
                  </li>
                );
              })}
          </ol>
        )}

        <h2>
          Links <span class="faint">{links.length}</span>
        </h2>
        {links.length === 0 ? (
          <p class="faint small sd-none">None.</p>
        ) : (
          <ul class="sd-links">
            {links.map((r, i) => {
              const same = String(r.traceID) === tree.traceID && byId.has(String(r.spanID));
              return (
                <li key={i}>
                  <span class="badge">{r.refType.toLowerCase()}</span>{" "}
                  {same ? (
                    <button type="button" class="link-button mono" onClick={() => onSelect(String(r.spanID))}>
                      {String(r.spanID)}
                    </button>
                  ) : (
                    <Link to={`/trace/${encodeURIComponent(String(r.traceID))}`} params={{ span: String(r.spanID) }} class="mono">
                      {String(r.traceID).slice(0, 16)}… / {String(r.spanID)}
                    </Link>
                  )}
                </li>
              );
            })}
          </ul>
        )}

        <h2>
          Process <span class="faint">{node.service}</span>
        </h2>
        <TagTable tags={processTags} testId="span-process" />

        {(s.warnings ?? []).length > 0 && (
          <>
            <h2>Warnings</h2>
            <ul class="sd-warnings">
              {(s.warnings ?? []).map((w, i) => (
                <li key={i}>{w}</li>
              ))}
            </ul>
          </>
        )}
      </div>
    </aside>
  );
}
