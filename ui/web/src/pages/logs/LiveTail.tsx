// Live tail (`?live=1`): new lines matching the query as the server acknowledges
// them (`/api/v1/logs/tail`, server-sent events), oldest at the top and the
// newest at the bottom, followed as `tail -f` does. Scrolling up (or Pause, or
// opening a record) stops following: new lines then wait below with a count
// and a button to jump back. At most MAX_LIVE lines are kept (the oldest go),
// and as many may wait while paused. The stream stops when live mode or the
// page is left (the component unmounts and aborts its request).

import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, describeError, isAbort } from "../../api/http";
import { tailLogs, type LogHit, type LogLanguage } from "../../api/logs";
import { Icon } from "../../components/Icon";
import { Empty, ErrorState } from "../../components/States";
import { formatCount, plural } from "../../lib/format";
import { toggled } from "../../lib/sets";
import { formatUtc } from "../../lib/time";
import { ListHead, LogList, type ListActions } from "./LogList";

/** Most lines kept on screen (and, separately, waiting while paused). */
export const MAX_LIVE = 10_000;
/** How often arrived lines are put on screen. */
const FLUSH_MS = 150;
const RETRY_MS = [1000, 2000, 5000, 10_000, 30_000];

type Status = { kind: "connecting" } | { kind: "live"; since: number } | { kind: "retrying"; at: number; error: string } | { kind: "failed"; error: string };

interface Tail {
  lines: LogHit[];
  /** Sequence number of lines[0] (lines dropped so far). */
  base: number;
  /** Lines that arrived while paused (not on screen yet). */
  waiting: number;
  /** Lines received since the stream started. */
  received: number;
  /** Batches the server skipped because this page fell behind. */
  droppedBatches: number;
  /** Lines lost while paused beyond MAX_LIVE waiting. */
  droppedWaiting: number;
  status: Status;
}

const START: Tail = { lines: [], base: 0, waiting: 0, received: 0, droppedBatches: 0, droppedWaiting: 0, status: { kind: "connecting" } };

/** The stream for (q, service): lines on screen, those waiting while `following` is off. */
function useTail(q: string, language: LogLanguage, service: string | null, following: boolean) {
  const [tail, setTail] = useState<Tail>(START);
  const incoming = useRef<LogHit[]>([]);
  const held = useRef<LogHit[]>([]);
  const heldDropped = useRef(0);
  const followingRef = useRef(following);
  followingRef.current = following;

  const flush = () => {
    const fresh = incoming.current;
    incoming.current = [];
    if (!followingRef.current) {
      held.current.push(...fresh);
      const over = held.current.length - MAX_LIVE;
      if (over > 0) {
        held.current.splice(0, over);
        heldDropped.current += over;
      }
      const waiting = held.current.length + heldDropped.current;
      setTail((t) => ({ ...t, waiting, received: t.received + fresh.length, droppedWaiting: heldDropped.current }));
      return;
    }
    const shown = [...held.current, ...fresh];
    held.current = [];
    heldDropped.current = 0;
    setTail((t) => {
      const all = t.lines.concat(shown);
      const cut = Math.max(0, all.length - MAX_LIVE);
      return { ...t, lines: cut > 0 ? all.slice(cut) : all, base: t.base + cut, waiting: 0, received: t.received + fresh.length };
    });
  };

  // Resuming puts the waiting lines on screen at once.
  useEffect(() => {
    if (following && held.current.length + heldDropped.current > 0) flush();
  }, [following]);

  useEffect(() => {
    setTail(START);
    incoming.current = [];
    held.current = [];
    heldDropped.current = 0;
    const ctl = new AbortController();
    let timer: number | undefined;
    let retry: number | undefined;
    let attempt = 0;
    const schedule = () => {
      if (timer === undefined) {
        timer = window.setTimeout(() => {
          timer = undefined;
          flush();
        }, FLUSH_MS);
      }
    };
    const connect = () => {
      setTail((t) => ({ ...t, status: t.status.kind === "retrying" ? t.status : { kind: "connecting" } }));
      tailLogs(
        { query: q, language, service },
        {
          open: () => {
            attempt = 0;
            setTail((t) => ({ ...t, status: { kind: "live", since: Date.now() } }));
          },
          log: (hit) => {
            incoming.current.push(hit);
            schedule();
          },
          dropped: (n) => setTail((t) => ({ ...t, droppedBatches: t.droppedBatches + n })),
        },
        ctl.signal,
      ).then(
        () => again("the server ended the stream"),
        (e: unknown) => {
          if (isAbort(e) || ctl.signal.aborted) return;
          // A bad query will not get better by retrying.
          if (e instanceof ApiError && e.status !== null && e.status >= 400 && e.status < 500) {
            setTail((t) => ({ ...t, status: { kind: "failed", error: describeError(e) } }));
            return;
          }
          again(describeError(e));
        },
      );
    };
    const again = (error: string) => {
      if (ctl.signal.aborted) return;
      const wait = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)] ?? 30_000;
      attempt++;
      setTail((t) => ({ ...t, status: { kind: "retrying", at: Date.now() + wait, error } }));
      retry = window.setTimeout(connect, wait);
    };
    connect();
    return () => {
      ctl.abort();
      window.clearTimeout(timer);
      window.clearTimeout(retry);
    };
  }, [q, language, service]);

  return tail;
}

function StatusText({ tail, following }: { tail: Tail; following: boolean }) {
  const s = tail.status;
  let state: ComponentChildren;
  if (s.kind === "connecting") state = "Connecting…";
  else if (s.kind === "live") state = following ? "Following new lines" : "Paused";
  else if (s.kind === "retrying") state = `Disconnected (${s.error}); reconnecting at ${formatUtc(s.at).slice(11)}, lines in between are missed`;
  else state = "Stopped";
  return (
    <span class="muted small live-status one-line" data-testid="live-status" data-state={s.kind === "live" ? (following ? "following" : "paused") : s.kind}>
      <span class={`live-dot${s.kind === "live" && following ? " on" : ""}`} aria-hidden="true" />
      {state} · {plural(tail.received, "line")} received
      {tail.base > 0 && ` · oldest ${formatCount(tail.base)} dropped (keeps ${formatCount(MAX_LIVE)})`}
      {tail.droppedBatches > 0 && ` · ${plural(tail.droppedBatches, "batch", "batches")} skipped by the server (this page fell behind)`}
    </span>
  );
}

export interface LiveTailProps {
  q: string;
  language: LogLanguage;
  service: string | null;
  wrap: boolean;
  actions: ListActions;
  /** Where the header's status and controls go. */
  renderHeader: (status: ComponentChildren, controls: ComponentChildren) => ComponentChildren;
}

export function LiveTail({ q, language, service, wrap, actions, renderHeader }: LiveTailProps) {
  const [following, setFollowing] = useState(true);
  const [expanded, setExpanded] = useState<Set<number>>(new Set());
  const tail = useTail(q, language, service, following);
  const lastTop = useRef(0);

  useEffect(() => {
    setFollowing(true);
    setExpanded(new Set());
  }, [q, language, service]);

  const onScroll = (el: HTMLDivElement) => {
    const fromEnd = el.scrollHeight - el.clientHeight - el.scrollTop;
    // Only a move up by the user stops following (content growing does not).
    if (following && el.scrollTop < lastTop.current - 2 && fromEnd > 24) setFollowing(false);
    // Scrolling back to the end follows again, unless a record is open there.
    else if (!following && expanded.size === 0 && fromEnd <= 2 && el.scrollTop > lastTop.current) setFollowing(true);
    lastTop.current = el.scrollTop;
  };

  const shownExpanded = new Set<number>();
  for (const seq of expanded) if (seq >= tail.base) shownExpanded.add(seq - tail.base);

  const controls = (
    <button
      type="button"
      class="btn small"
      data-testid="live-pause"
      aria-pressed={!following}
      onClick={() => setFollowing(!following)}
      title={following ? "Stop following (new lines wait below)" : "Follow new lines again"}
    >
      {following ? "Pause" : "Resume"}
    </button>
  );

  const failed = tail.status.kind === "failed" ? tail.status.error : null;
  // Stable while no line is dropped: a new key function re-lays out every row.
  const base = tail.base;
  const liveKey = useCallback((i: number) => `live-${base + i}`, [base]);
  return (
    <>
      {renderHeader(<StatusText tail={tail} following={following} />, controls)}
      {failed !== null && <ErrorState title="The live tail failed" message={failed} />}
      <ListHead />
      <div class="live-body">
        {tail.lines.length === 0 && failed === null ? (
          <Empty>
            Waiting for new lines{q !== "" ? <> matching <code>{q}</code></> : null}
            {service !== null ? <> in {service}</> : null}…
          </Empty>
        ) : (
          <LogList
            hits={tail.lines}
            wrap={wrap}
            expanded={shownExpanded}
            resetKey={`${q}\u0000${service ?? ""}`}
            keyOf={liveKey}
            follow={following}
            onScroll={onScroll}
            onToggle={(i) => {
              const seq = tail.base + i;
              // Reading a record: keep it where it is.
              if (!expanded.has(seq)) setFollowing(false);
              setExpanded(toggled(expanded, seq));
            }}
            actions={actions}
          />
        )}
        {!following && tail.waiting > 0 && (
          <button type="button" class="btn primary live-new" data-testid="live-new-lines" onClick={() => setFollowing(true)}>
            <Icon name="down" size={12} />
            {plural(tail.waiting, "new line")}
            {tail.droppedWaiting > 0 && ` (${formatCount(tail.droppedWaiting)} dropped)`}
          </button>
        )}
      </div>
    </>
  );
}
