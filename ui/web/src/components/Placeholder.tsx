// A view that is not built yet: says so, and links to what exists.

import type { ComponentChildren } from "preact";
import { Link } from "./Link";

export function Placeholder({ title, subtitle, next, lead, children }: { title: string; subtitle?: string; next?: string; lead?: string; children?: ComponentChildren }) {
  return (
    <div class="page">
      <div class="page-scroll">
        <div class="placeholder" data-testid="placeholder">
          <div class="page-header">
            <h1>{title}</h1>
            {subtitle !== undefined && <span class="muted mono">{subtitle}</span>}
          </div>
          {lead !== undefined && <p>{lead}</p>}
          {next !== undefined && <p>Coming next: {next}</p>}
          {children}
          <ul>
            <li>
              <Link to="/logs">Search logs</Link> — volume by severity, facets, expandable records
            </li>
            <li>
              <Link to="/explore">Explore metrics</Link> — PromQL with autocomplete, graph and table
            </li>
            <li>
              <Link to="/">Home</Link> — services and the newest log lines
            </li>
          </ul>
        </div>
      </div>
    </div>
  );
}
