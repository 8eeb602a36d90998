// A row of tabs (the view's panes, kept in the URL by the caller). Only the tab
// buttons are in the tablist; anything else in the row (`children`, such as a
// toggle) sits after it, outside the ARIA tablist.

import type { ComponentChildren } from "preact";

export interface TabDef<T extends string> {
  id: T;
  label: string;
}

export function Tabs<T extends string>({ tabs, value, onSelect, label, class: cls, children }: { tabs: TabDef<T>[]; value: T; onSelect: (id: T) => void; label: string; class?: string; children?: ComponentChildren }) {
  return (
    <div class={cls === undefined ? "tabs" : `tabs ${cls}`}>
      <div class="tablist" role="tablist" aria-label={label}>
        {tabs.map((t) => (
          <button key={t.id} type="button" role="tab" class="tab" aria-selected={t.id === value} data-testid={`tab-${t.id}`} onClick={() => onSelect(t.id)}>
            {t.label}
          </button>
        ))}
      </div>
      {children}
    </div>
  );
}
