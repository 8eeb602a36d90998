// Dark and light themes: follow the OS until the user toggles; the choice is
// kept in localStorage. A toggle that lands on the OS theme goes back to
// following the OS.

import { Store } from "./store";

export type Theme = "dark" | "light";

const KEY = "osprey.theme";
const media = window.matchMedia("(prefers-color-scheme: dark)");

function osTheme(): Theme {
  return media.matches ? "dark" : "light";
}

function stored(): Theme | null {
  try {
    const v = window.localStorage.getItem(KEY);
    return v === "dark" || v === "light" ? v : null;
  } catch {
    return null;
  }
}

export const theme = new Store<Theme>(stored() ?? osTheme());

function apply(t: Theme): void {
  document.documentElement.dataset.theme = t;
}

apply(theme.get());
theme.subscribe(apply);

media.addEventListener("change", () => {
  if (stored() === null) theme.set(osTheme());
});

export function toggleTheme(): void {
  const next: Theme = theme.get() === "dark" ? "light" : "dark";
  try {
    if (next === osTheme()) window.localStorage.removeItem(KEY);
    else window.localStorage.setItem(KEY, next);
  } catch {
    // Storage unavailable: the toggle still works for this page.
  }
  theme.set(next);
}

/** Reads a CSS custom property of the current theme (for canvas charts). */
export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
