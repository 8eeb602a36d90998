// In-app links: real <a href> (open in new tab works), history navigation on click.

import type { AnchorHTMLAttributes, ComponentChildren } from "preact";
import { hrefTo, onLinkClick } from "../router";

type AnchorProps = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, "href" | "role">;

/** A link to `to`, keeping the time range, tenant and refresh of the current URL. */
export function Link({ to, params, children, ...rest }: { to: string; params?: Record<string, string | null>; children: ComponentChildren } & AnchorProps) {
  return (
    <a {...rest} href={hrefTo(to, params)} onClick={onLinkClick}>
      {children}
    </a>
  );
}

/** Link to a trace's page. */
export function TraceLink({ id, children }: { id: string; children?: ComponentChildren }) {
  return (
    <Link to={`/trace/${encodeURIComponent(id)}`} class="mono trace-link" title={`Open trace ${id}`}>
      {children ?? id}
    </Link>
  );
}
