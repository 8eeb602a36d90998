// Keyboard shortcuts, active when no text field has focus.

import { navigate, hrefTo } from "../router";
import { refreshNow } from "./refresh";
import { toggleTheme } from "./theme";
import { Store } from "./store";
import { shiftCurrent, zoomOutCurrent } from "../components/TimePicker";

export const SHORTCUTS: [string, string][] = [
  ["/", "Focus the query bar"],
  ["r", "Refresh now"],
  ["t", "Toggle dark / light theme"],
  ["[  ]", "Shift the time range earlier / later"],
  ["z", "Zoom the time range out"],
  ["g o", "Go to home (overview)"],
  ["g l", "Go to logs"],
  ["g m", "Go to metrics explore"],
  ["g t", "Go to traces"],
  ["g s", "Go to services"],
  ["g h", "Go to hosts"],
  ["g a", "Go to alerts"],
  ["?", "Show this help"],
  ["Esc", "Leave a field, close a popup"],
];

export const helpOpen = new Store(false);

const GO: Record<string, string> = { o: "/", l: "/logs", m: "/explore", t: "/traces", s: "/services", h: "/hosts", a: "/alerts" };

function focusQueryBar(): void {
  const bar = document.querySelector<HTMLElement>("[data-query-bar]");
  if (bar === null) return;
  // A CodeMirror editor takes focus on its content element.
  const el = bar.querySelector<HTMLElement>(".cm-content") ?? bar;
  el.focus();
  if (el instanceof HTMLInputElement) el.select();
}

function typing(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  return t.isContentEditable || t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement;
}

let pendingG = 0;

export function installShortcuts(): void {
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && typing(e.target) && e.target instanceof HTMLElement && !e.target.closest(".cm-editor")) {
      e.target.blur();
      return;
    }
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (pendingG > Date.now()) {
      pendingG = 0;
      const path = GO[e.key];
      if (path !== undefined) {
        e.preventDefault();
        navigate(hrefTo(path));
      }
      return;
    }
    switch (e.key) {
      case "/":
        e.preventDefault();
        focusQueryBar();
        break;
      case "r":
        refreshNow();
        break;
      case "t":
        toggleTheme();
        break;
      case "[":
        shiftCurrent(-0.5);
        break;
      case "]":
        shiftCurrent(0.5);
        break;
      case "z":
        zoomOutCurrent();
        break;
      case "g":
        pendingG = Date.now() + 1500;
        break;
      case "?":
        helpOpen.set(!helpOpen.get());
        break;
      case "Escape":
        helpOpen.set(false);
        break;
      default:
        break;
    }
  });
}
