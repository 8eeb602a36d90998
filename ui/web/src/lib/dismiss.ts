// Closing a popover (menu, picker, dropdown) the way people expect: a press
// outside it, and optionally Escape or any scroll (for one placed at a point).

import type { RefObject } from "preact";
import { useEffect } from "preact/hooks";

export interface DismissOptions {
  escape?: boolean;
  scroll?: boolean;
}

/** While `open`, calls `close` on a press outside `root` (and Escape / a scroll, if asked). */
export function useDismiss(open: boolean, root: RefObject<HTMLElement | null>, close: () => void, opts: DismissOptions = {}): void {
  useEffect(() => {
    if (!open) return;
    const outside = (e: Event) => {
      if (!(e.target instanceof Node && root.current?.contains(e.target))) close();
    };
    const esc = (e: KeyboardEvent) => {
      if (e.key === "Escape") close();
    };
    document.addEventListener("mousedown", outside, true);
    if (opts.scroll) document.addEventListener("scroll", outside, true);
    if (opts.escape) document.addEventListener("keydown", esc);
    return () => {
      document.removeEventListener("mousedown", outside, true);
      document.removeEventListener("scroll", outside, true);
      document.removeEventListener("keydown", esc);
    };
  }, [open]);
}
