// A handful of 16px stroke icons (inline SVG, no icon font).

const PATHS: Record<string, string> = {
  clock: "M8 1.75a6.25 6.25 0 1 0 0 12.5 6.25 6.25 0 0 0 0-12.5zM8 4.5V8l2.5 1.5",
  left: "M10 3.5 5.5 8l4.5 4.5",
  right: "M6 3.5 10.5 8 6 12.5",
  down: "M4 6l4 4 4-4",
  zoomOut: "M7 2.5a4.5 4.5 0 1 0 0 9 4.5 4.5 0 0 0 0-9zM10.3 10.3l3.2 3.2M5 7h4",
  refresh: "M13 3.5v3h-3M3 12.5v-3h3M12.6 6.5A5 5 0 0 0 3.8 5M3.4 9.5a5 5 0 0 0 8.8 1.5",
  sun: "M8 5a3 3 0 1 0 0 6 3 3 0 0 0 0-6zM8 1v1.5M8 13.5V15M1 8h1.5M13.5 8H15M3 3l1 1M12 12l1 1M3 13l1-1M12 4l1-1",
  moon: "M13.5 9.5A5.5 5.5 0 0 1 6.5 2.5a5.5 5.5 0 1 0 7 7z",
  search: "M7 2.5a4.5 4.5 0 1 0 0 9 4.5 4.5 0 0 0 0-9zM10.3 10.3l3.2 3.2",
  play: "M5 3.5v9l7-4.5z",
  keyboard: "M2 4.5h12v7H2zM4.5 7h1M7.5 7h1M10.5 7h1M5 9.5h6",
  x: "M4 4l8 8M12 4l-8 8",
  plus: "M8 3v10M3 8h10",
  chevronRight: "M6 4l4 4-4 4",
  chevronDown: "M4 6l4 4 4-4",
  chevronUp: "M4 10l4-4 4 4",
  logs: "M3 4h10M3 8h10M3 12h6",
  minus: "M3 8h10",
  filter: "M2.5 3.5h11L9 9v4l-2-1V9z",
  external: "M9 2.5h4.5V7M13.5 2.5 7 9M11 9.5v4H2.5V5h4",
  logo: "M1.5 10 8 4.5l6.5 5.5-2.2.2L8 7.2 3.7 10.2z",
  alert: "M8 2 14.5 13.5h-13zM8 6.5v3.2M8 11.5v.2",
  wrap: "M2.5 4h11M2.5 8h9a2 2 0 0 1 0 4H9M10.5 10.5 9 12l1.5 1.5M2.5 12h4",
  key: "M10.5 2.5a3 3 0 1 0 0 6 3 3 0 0 0 0-6zM8.4 7.6 2.5 13.5M4.5 11.5l1.5 1.5M6 10l1.5 1.5",
};

export function Icon({ name, size = 16, title }: { name: keyof typeof PATHS; size?: number; title?: string }) {
  return (
    <svg
      class="icon"
      width={size}
      height={size}
      viewBox="0 0 16 16"
      fill="none"
      stroke="currentColor"
      stroke-width="1.5"
      stroke-linecap="round"
      stroke-linejoin="round"
      aria-hidden={title === undefined ? "true" : undefined}
      role={title === undefined ? undefined : "img"}
    >
      {title !== undefined && <title>{title}</title>}
      <path d={PATHS[name]} />
    </svg>
  );
}
