// Context around a record: the lines just before and after it in the same
// stream (its service and resource attributes, what Loki calls the stream's
// labels), whatever the query, in time order with the record highlighted.
//
// The search API answers newest first, so "before" is one search ending at the
// record (growing the window until it holds enough lines) and "after" is a
// search from the record over a window small enough that the API returns all
// of it (shrunk or grown until it holds between n and a page of lines).

import { useEffect, useRef, useState } from "preact/hooks";
import { fieldTerm, searchLogsNs, timestampNs, type LogHit } from "../../api/logs";
import { Busy, ErrorState } from "../../components/States";
import { attrText, formatTimestamp, severityClass } from "../../lib/format";
import { useLoad } from "../../lib/load";
import { AnsiText } from "../../components/LogText";

const SIZES = [10, 25, 50, 100] as const;
const SECOND = 1_000_000_000n;
/** Windows tried before a record, smallest first. */
const BEFORE_WINDOWS = [60n, 3600n, 86_400n, 30n * 86_400n].map((s) => s * SECOND);
/** The page used for "after": a window must hold at most this many lines. */
const AFTER_PAGE = 1000;

export interface Stream {
  /** Extra query terms (the resource attributes but the service name). */
  query: string;
  /** `key=value` shown to say what the stream is. */
  labels: string[];
  /** Resource attributes that cannot be written in a query (left out). */
  skipped: string[];
}

/** The record's stream as a search: its resource attributes, exactly. */
export function streamOf(log: LogHit): Stream {
  const terms: string[] = [];
  const labels = [`service=${log.service}`];
  const skipped: string[] = [];
  if (log.service === "") terms.push('service:""');
  for (const [k, v] of Object.entries(log.resource).sort(([a], [b]) => a.localeCompare(b))) {
    if (k === "service.name") continue;
    const text = attrText(v);
    const term = fieldTerm(k, text);
    if (term === null) skipped.push(k);
    else {
      terms.push(term);
      labels.push(`${k}=${text}`);
    }
  }
  return { query: terms.join(" "), labels, skipped };
}

/** The same record (timestamps can tie, so more than the time). */
function same(a: LogHit, b: LogHit): boolean {
  return a.timestamp === b.timestamp && a.body === b.body && a.span_id === b.span_id && a.severity === b.severity && a.service === b.service;
}

export interface ContextLines {
  before: LogHit[];
  /** Lines at the record's own timestamp, the record among them. */
  at: LogHit[];
  after: LogHit[];
  /** Fewer lines than asked for exist on that side (within the windows searched). */
  startReached: boolean;
  endReached: boolean;
}

const nsOf = (h: LogHit) => timestampNs(h.timestamp) ?? 0n;

async function linesBefore(log: LogHit, t: bigint, s: Stream, n: number, signal: AbortSignal) {
  let before: LogHit[] = [];
  let at: LogHit[] = [];
  let complete = false;
  for (const w of BEFORE_WINDOWS) {
    const r = await searchLogsNs({ query: s.query, service: log.service || null, startNs: t - w, endNs: t, limit: n + 100 }, signal);
    at = r.hits.filter((h) => nsOf(h) === t);
    before = r.hits.filter((h) => nsOf(h) < t).slice(0, n);
    if (before.length >= n) break;
    complete = r.cursor === null;
  }
  return { before: before.reverse(), at: at.reverse(), startReached: before.length < n && complete };
}

async function linesAfter(log: LogHit, t: bigint, s: Stream, n: number, signal: AbortSignal) {
  const limit = Math.max(n, 1) > AFTER_PAGE ? n : AFTER_PAGE;
  const horizon = BigInt(Date.now()) * 1_000_000n + 60n * SECOND;
  let w = 10n * SECOND;
  let lo: bigint | null = null; // a window with fewer than n lines
  let hi: bigint | null = null; // a window with more than a page
  let best: LogHit[] = [];
  for (let i = 0; i < 24; i++) {
    const r = await searchLogsNs({ query: s.query, service: log.service || null, startNs: t + 1n, endNs: t + w, limit }, signal);
    if (r.cursor !== null) {
      hi = w;
      const next = lo === null ? w / 16n : (lo + w) / 2n;
      if (next <= (lo ?? 0n) || next < 1n) break;
      w = next;
      continue;
    }
    best = r.hits;
    if (r.hits.length >= n || t + w >= horizon) return { after: r.hits.slice(-n).reverse(), endReached: r.hits.length < n };
    lo = w;
    const next = hi === null ? w * 16n : (w + hi) / 2n;
    if (next <= w) break;
    w = next;
  }
  return { after: best.slice(-n).reverse(), endReached: false };
}

export async function loadContext(log: LogHit, n: number, signal: AbortSignal): Promise<ContextLines> {
  const t = timestampNs(log.timestamp);
  if (t === null) throw new Error(`cannot read the record's timestamp ${JSON.stringify(log.timestamp)}`);
  const s = streamOf(log);
  const [b, a] = await Promise.all([linesBefore(log, t, s, n, signal), linesAfter(log, t, s, n, signal)]);
  const at = b.at.some((h) => same(h, log)) ? b.at : [...b.at, log];
  return { before: b.before, at, after: a.after, startReached: b.startReached, endReached: a.endReached };
}

function ContextRow({ log, anchor }: { log: LogHit; anchor: boolean }) {
  const sev = severityClass(log.severity);
  return (
    <div class={`logrow context-row sev-row-${sev}${anchor ? " anchor" : ""}`} data-testid="context-row" data-anchor={anchor ? "1" : undefined} data-timestamp={log.timestamp}>
      <span class={`sev-bar sev-${sev}`} aria-hidden="true" />
      <span class="col-time mono" title={log.timestamp}>
        {formatTimestamp(log.timestamp)}
      </span>
      <span class={`col-level sev-${sev}`}>{(log.severity || "—").slice(0, 5)}</span>
      <span class="col-service">{log.service === "" ? "(unknown)" : log.service}</span>
      <span class="col-body mono">
        <AnsiText text={log.body.length > 2000 ? log.body.slice(0, 2000) : log.body} />
      </span>
    </div>
  );
}

export function ContextView({ log }: { log: LogHit }) {
  const [n, setN] = useState<number>(SIZES[0]);
  const stream = streamOf(log);
  const res = useLoad((signal) => loadContext(log, n, signal), [log.timestamp, log.body, n], { label: "Could not load the context" });
  const box = useRef<HTMLDivElement>(null);
  const data = res.data;

  // Bring the record into the middle of the box once its lines are in.
  useEffect(() => {
    const el = box.current;
    const anchor = el?.querySelector<HTMLElement>(".context-row.anchor");
    if (el && anchor) el.scrollTop = anchor.offsetTop - el.clientHeight / 2 + anchor.offsetHeight / 2;
  }, [data]);

  return (
    <section class="log-context" data-testid="log-context" aria-label="Context">
      <div class="context-head">
        <strong>Context</strong>
        <span class="muted small context-stream" title={stream.labels.join("\n")}>
          same stream: {stream.labels.join(" · ")}
          {stream.skipped.length > 0 && ` (not compared: ${stream.skipped.join(", ")})`}
        </span>
        <span class="spacer" />
        <label class="small muted">
          lines{" "}
          <select class="btn select small" data-testid="context-size" value={n} onChange={(e) => setN(Number(e.currentTarget.value))}>
            {SIZES.map((s) => (
              <option key={s} value={s}>
                ±{s}
              </option>
            ))}
          </select>
        </label>
      </div>
      <Busy on={res.loading} />
      {res.error !== null && <ErrorState title="Could not load the context" message={res.error} compact />}
      <div class="context-lines" ref={box}>
        {data === undefined ? (
          <div class="muted small context-note">{res.loading ? "Loading the lines around it…" : ""}</div>
        ) : (
          <>
            {data.startReached && <div class="muted small context-note">No earlier lines in this stream.</div>}
            {data.before.map((h, i) => (
              <ContextRow key={`b${i}`} log={h} anchor={false} />
            ))}
            {data.at.map((h, i) => (
              <ContextRow key={`a${i}`} log={h} anchor={same(h, log)} />
            ))}
            {data.after.map((h, i) => (
              <ContextRow key={`f${i}`} log={h} anchor={false} />
            ))}
            {data.endReached && <div class="muted small context-note">No later lines in this stream yet.</div>}
          </>
        )}
      </div>
    </section>
  );
}
