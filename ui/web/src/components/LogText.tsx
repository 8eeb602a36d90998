// A log body as text: ANSI colours become styled spans, long lines are clamped
// with a click to expand. Never HTML: every piece is a text node.

import { useMemo, useState } from "preact/hooks";
import { hasAnsi, parseAnsi } from "../lib/ansi";
import { formatCount } from "../lib/format";

/** Lines longer than this are clamped until expanded. */
export const CLAMP_CHARS = 400;

function colourProps(c: string | undefined, kind: "fg" | "bg"): { cls?: string; css?: string } {
  if (c === undefined) return {};
  if (c.startsWith("ansi-")) return { cls: `ansi-${kind}-${c.slice(5)}` };
  return { css: c };
}

export function AnsiText({ text }: { text: string }) {
  const segs = useMemo(() => (hasAnsi(text) ? parseAnsi(text) : null), [text]);
  if (segs === null) return <>{text}</>;
  return (
    <>
      {segs.map((s, i) => {
        const fg = colourProps(s.fg, "fg");
        const bg = colourProps(s.bg, "bg");
        const cls = [fg.cls, bg.cls, s.bold && "ansi-bold", s.dim && "ansi-dim", s.italic && "ansi-italic", s.underline && "ansi-underline"]
          .filter(Boolean)
          .join(" ");
        if (cls === "" && fg.css === undefined && bg.css === undefined) return <span key={i}>{s.text}</span>;
        return (
          <span key={i} class={cls || undefined} style={{ color: fg.css, backgroundColor: bg.css }}>
            {s.text}
          </span>
        );
      })}
    </>
  );
}

/** A body, clamped to `CLAMP_CHARS` characters with a button to show the rest. */
export function LogText({ text, clamp = CLAMP_CHARS }: { text: string; clamp?: number }) {
  const [open, setOpen] = useState(false);
  const long = text.length > clamp;
  if (!long || open) {
    return (
      <>
        <AnsiText text={text} />
        {long && (
          <button
            type="button"
            class="clamp-toggle"
            onClick={(e) => {
              e.stopPropagation();
              setOpen(false);
            }}
          >
            show less
          </button>
        )}
      </>
    );
  }
  return (
    <>
      <AnsiText text={text.slice(0, clamp)} />
      <button
        type="button"
        class="clamp-toggle"
        data-testid="clamp-expand"
        title="Show the whole line"
        onClick={(e) => {
          e.stopPropagation();
          setOpen(true);
        }}
      >
        … +{formatCount(text.length - clamp)} chars
      </button>
    </>
  );
}
