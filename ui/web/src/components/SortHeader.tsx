// A sortable column head: a button that sorts by the column (a second click
// reverses), `aria-sort`, and an arrow on the sorted column. The sort lives in
// the URL (`?sort=-rate`, `-` descending), so a sorted table can be shared.

import { updateParams } from "../router";

export interface SortState<K extends string> {
  key: K;
  desc: boolean;
}

/**
 * Sorts by `key` in the URL parameter `param`: the sorted column reverses, another
 * starts descending (`descFirst`, for numbers) or ascending (names); the default
 * sort leaves the URL without the parameter.
 */
export function sortBy<K extends string>(param: string, key: K, cur: SortState<K>, descFirst: boolean, defaultSort: string): void {
  const next = key === cur.key ? (cur.desc ? key : `-${key}`) : descFirst ? `-${key}` : key;
  updateParams({ [param]: next === defaultSort ? null : next }, { replace: true });
}

export interface SortHeaderProps<K extends string> {
  id: K;
  label: string;
  title: string;
  num: boolean;
  sort: SortState<K>;
  onSort: (key: K) => void;
  /** In a grid of divs (role="table") rather than a <table>. */
  grid?: boolean;
}

export function SortHeader<K extends string>({ id, label, title, num, sort, onSort, grid }: SortHeaderProps<K>) {
  const on = sort.key === id;
  const Cell = grid === true ? "div" : "th";
  return (
    <Cell
      role={grid === true ? "columnheader" : undefined}
      class={`${num ? "num " : ""}sortable${on ? " sorted" : ""}`}
      title={title}
      aria-sort={on ? (sort.desc ? "descending" : "ascending") : "none"}
      data-sort={id}
    >
      <button type="button" class="sort-button" onClick={() => onSort(id)}>
        {label}
        <span class="sort-arrow" aria-hidden="true">
          {on ? (sort.desc ? "▼" : "▲") : ""}
        </span>
      </button>
    </Cell>
  );
}
