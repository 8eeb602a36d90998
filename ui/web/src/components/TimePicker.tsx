// The time picker: quick relative ranges, absolute from/to (any of `now-1h`,
// RFC 3339, `YYYY-MM-DD HH:MM:SS` in UTC, unix seconds), shift and zoom out.
// Every change pushes a history entry, so back/forward walk the range history.

import { useEffect, useRef, useState } from "preact/hooks";
import { updateParams } from "../router";
import { useTimeRange } from "../lib/refresh";
import {
  DEFAULT_RANGE,
  QUICK_RANGES,
  describeRange,
  formatUtc,
  isRelative,
  parseTimeExpr,
  resolveRange,
  shiftRange,
  zoomRange,
  type RangeParams,
} from "../lib/time";
import { useDismiss } from "../lib/dismiss";
import { Icon } from "./Icon";

export function setRange(r: RangeParams): void {
  const isDefault = r.from === DEFAULT_RANGE.from && r.to === DEFAULT_RANGE.to;
  updateParams({ from: isDefault ? null : r.from, to: isDefault ? null : r.to });
}

/** Shift the current range by a fraction of its length (keyboard and buttons). */
export function shiftCurrent(factor: number): void {
  const p = new URLSearchParams(window.location.search);
  const r = resolveRange({ from: p.get("from") || DEFAULT_RANGE.from, to: p.get("to") || DEFAULT_RANGE.to }, Date.now());
  if (typeof r !== "string") setRange(shiftRange(r, factor));
}

export function zoomOutCurrent(): void {
  const p = new URLSearchParams(window.location.search);
  const r = resolveRange({ from: p.get("from") || DEFAULT_RANGE.from, to: p.get("to") || DEFAULT_RANGE.to }, Date.now());
  if (typeof r !== "string") setRange(zoomRange(r, 2, Date.now()));
}

function hint(expr: string): string {
  const t = parseTimeExpr(expr, Date.now());
  if (t === null) return "not a time";
  return isRelative(expr) ? `${formatUtc(t)} UTC` : "UTC";
}

export function TimePicker() {
  const range = useTimeRange();
  const [open, setOpen] = useState(false);
  const [from, setFrom] = useState(range.params.from);
  const [to, setTo] = useState(range.params.to);
  const [err, setErr] = useState<string | null>(null);
  const root = useRef<HTMLDivElement>(null);

  useEffect(() => {
    setFrom(range.params.from);
    setTo(range.params.to);
    setErr(null);
  }, [range.params.from, range.params.to, open]);

  useDismiss(open, root, () => setOpen(false), { escape: true });

  const apply = (e: Event) => {
    e.preventDefault();
    const r = resolveRange({ from, to }, Date.now());
    if (typeof r === "string") {
      setErr(r);
      return;
    }
    setRange({ from: from.trim(), to: to.trim() });
    setOpen(false);
  };

  const label = describeRange(range.params);
  const title =
    range.resolved === null ? (range.error ?? "") : `${formatUtc(range.resolved.start)} → ${formatUtc(range.resolved.end)} UTC`;

  return (
    <div class="timepicker" ref={root}>
      <div class="btn-group">
        <button type="button" class="btn icon-only" title="Earlier ( [ )" aria-label="Shift range earlier" onClick={() => shiftCurrent(-0.5)}>
          <Icon name="left" />
        </button>
        <button
          type="button"
          class={`btn timepicker-button${range.error ? " invalid" : ""}`}
          data-testid="time-picker"
          aria-haspopup="dialog"
          aria-expanded={open}
          title={title}
          onClick={() => setOpen(!open)}
        >
          <Icon name="clock" />
          <span class="timepicker-label">{label}</span>
          <span class="timepicker-utc">UTC</span>
        </button>
        <button type="button" class="btn icon-only" title="Later ( ] )" aria-label="Shift range later" onClick={() => shiftCurrent(0.5)}>
          <Icon name="right" />
        </button>
        <button type="button" class="btn icon-only" title="Zoom out ( z )" aria-label="Zoom out" onClick={zoomOutCurrent}>
          <Icon name="zoomOut" />
        </button>
      </div>
      {open && (
        <div class="popover timepicker-popover" role="dialog" aria-label="Time range">
          <form class="timepicker-abs" onSubmit={apply}>
            <h3>Range</h3>
            <label>
              From
              <input
                class="input mono"
                data-testid="time-from"
                value={from}
                onInput={(e) => setFrom(e.currentTarget.value)}
                spellcheck={false}
                autocomplete="off"
              />
              <small class="muted">{hint(from)}</small>
            </label>
            <label>
              To
              <input
                class="input mono"
                data-testid="time-to"
                value={to}
                onInput={(e) => setTo(e.currentTarget.value)}
                spellcheck={false}
                autocomplete="off"
              />
              <small class="muted">{hint(to)}</small>
            </label>
            {err !== null && <p class="field-error">{err}</p>}
            <button type="submit" class="btn primary" data-testid="time-apply">
              Apply range
            </button>
            <p class="muted small">
              <code>now-15m</code>, RFC 3339 (<code>2026-01-02T15:04:05Z</code>), <code>YYYY-MM-DD HH:MM</code> (UTC) or unix
              seconds.
            </p>
          </form>
          <ul class="timepicker-quick" aria-label="Quick ranges">
            {QUICK_RANGES.map((q) => (
              <li key={q.from}>
                <button
                  type="button"
                  class={range.params.from === q.from && range.params.to === "now" ? "active" : ""}
                  onClick={() => {
                    setRange({ from: q.from, to: "now" });
                    setOpen(false);
                  }}
                >
                  {q.label}
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
