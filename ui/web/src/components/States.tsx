// Loading, empty and error states: each says what happened.

import type { ComponentChildren } from "preact";
import { Icon } from "./Icon";

export function Loading({ what }: { what?: string }) {
  return (
    <div class="state state-loading" role="status" data-testid="state-loading">
      <span class="spinner" aria-hidden="true" />
      {what === undefined ? "Loading…" : `Loading ${what}…`}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return (
    <div class="state state-empty" data-testid="state-empty">
      {children}
    </div>
  );
}

/** An API error, in the API's own words. */
export function ErrorState({ title, message, compact }: { title?: string; message: string; compact?: boolean }) {
  return (
    <div class={`state state-error${compact ? " compact" : ""}`} role="alert" data-testid="state-error">
      <Icon name="alert" />
      <div>
        {title !== undefined && <strong>{title}</strong>}
        <span class="state-message">{message}</span>
      </div>
    </div>
  );
}

/** A thin bar across the top of a panel while it reloads. */
export function Busy({ on }: { on: boolean }) {
  return <div class={`busy${on ? " on" : ""}`} aria-hidden="true" />;
}
