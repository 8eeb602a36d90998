// ANSI escape codes in log lines → styled segments, rendered as text spans
// (never as HTML). SGR colours: the 16 basic ones map to theme classes, the
// 256-colour palette and 24-bit colours to inline rgb(). Other escape
// sequences (cursor moves, OSC titles) are dropped.

export interface Segment {
  text: string;
  /** `ansi-fg-N` (0–15) class or an `rgb(…)` colour. */
  fg?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
}

interface Style {
  fg?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
}

// CSI … final byte, OSC … BEL/ST, and lone two-character escapes.
// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[([0-9;:?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?/g;

export function hasAnsi(s: string): boolean {
  return s.includes("\x1b");
}

function palette256(n: number): string {
  if (n < 16) return `ansi-${n}`;
  if (n < 232) {
    const i = n - 16;
    const level = (v: number) => (v === 0 ? 0 : 55 + v * 40);
    return `rgb(${level(Math.floor(i / 36))},${level(Math.floor(i / 6) % 6)},${level(i % 6)})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

function applySgr(style: Style, params: string): Style {
  const s: Style = { ...style };
  const codes = params === "" ? [0] : params.split(/[;:]/).map((p) => (p === "" ? 0 : Number(p)));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i] ?? 0;
    if (c === 0) {
      for (const k of Object.keys(s)) delete s[k as keyof Style];
    } else if (c === 1) s.bold = true;
    else if (c === 2) s.dim = true;
    else if (c === 3) s.italic = true;
    else if (c === 4) s.underline = true;
    else if (c === 7) s.inverse = true;
    else if (c === 22) {
      s.bold = false;
      s.dim = false;
    } else if (c === 23) s.italic = false;
    else if (c === 24) s.underline = false;
    else if (c === 27) s.inverse = false;
    else if (c >= 30 && c <= 37) s.fg = `ansi-${c - 30}`;
    else if (c === 39) delete s.fg;
    else if (c >= 40 && c <= 47) s.bg = `ansi-${c - 40}`;
    else if (c === 49) delete s.bg;
    else if (c >= 90 && c <= 97) s.fg = `ansi-${c - 90 + 8}`;
    else if (c >= 100 && c <= 107) s.bg = `ansi-${c - 100 + 8}`;
    else if (c === 38 || c === 48) {
      const mode = codes[i + 1];
      let colour: string | undefined;
      if (mode === 5 && codes[i + 2] !== undefined) {
        colour = palette256(Math.min(255, Math.max(0, codes[i + 2] ?? 0)));
        i += 2;
      } else if (mode === 2 && codes[i + 4] !== undefined) {
        const [r, g, b] = [codes[i + 2], codes[i + 3], codes[i + 4]].map((v) => Math.min(255, Math.max(0, v ?? 0)));
        colour = `rgb(${r},${g},${b})`;
        i += 4;
      }
      if (colour !== undefined) {
        if (c === 38) s.fg = colour;
        else s.bg = colour;
      }
    }
  }
  return s;
}

function segment(text: string, st: Style): Segment {
  const seg: Segment = { text };
  const fg = st.inverse ? (st.bg ?? "ansi-inv-fg") : st.fg;
  const bg = st.inverse ? (st.fg ?? "ansi-inv-bg") : st.bg;
  if (fg !== undefined) seg.fg = fg;
  if (bg !== undefined) seg.bg = bg;
  if (st.bold) seg.bold = true;
  if (st.dim) seg.dim = true;
  if (st.italic) seg.italic = true;
  if (st.underline) seg.underline = true;
  return seg;
}

/** Splits a line into styled segments; plain text gives one unstyled segment. */
export function parseAnsi(input: string): Segment[] {
  if (!hasAnsi(input)) return [{ text: input }];
  const out: Segment[] = [];
  let style: Style = {};
  let last = 0;
  ESCAPE.lastIndex = 0;
  for (let m = ESCAPE.exec(input); m !== null; m = ESCAPE.exec(input)) {
    if (m.index > last) out.push(segment(input.slice(last, m.index), style));
    if (m[2] === "m") style = applySgr(style, m[1] ?? "");
    last = ESCAPE.lastIndex;
    if (m[0] === "") ESCAPE.lastIndex++;
  }
  if (last < input.length) out.push(segment(input.slice(last), style));
  return out;
}

/** The text without escapes (for copying, searching, measuring). */
export function stripAnsi(input: string): string {
  return hasAnsi(input) ? input.replace(ESCAPE, "") : input;
}
