// A page without a view of its own (such as an unknown address): says so, and
// links to the views that exist.

import type { ComponentChildren } from "preact";
import { Link } from "./Link";

export function Placeholder({ title, subtitle, lead, children }: { title: string; subtitle?: string; lead?: string; children?: ComponentChildren }) {
  return (
    <div class="page">
      <div class="page-scroll">
        <div class="placeholder" data-testid="placeholder">
          <div class="page-header">
            <h1>{title}</h1>
            {subtitle !== undefined && <span class="muted mono">{subtitle}</span>}
          </div>
          {lead !== undefined && <p>{lead}</p>}
          {children}
          <ul>
            <li>
              <Link to="/">Home</Link> — request rate, errors, latency, hosts, alerts and the newest error logs
            </li>
            <li>
              <Link to="/logs">Logs</Link> — search, volume by severity, facets, live tail, patterns
            </li>
            <li>
              <Link to="/explore">Metrics</Link> — PromQL with autocomplete, graph and table
            </li>
            <li>
              <Link to="/traces">Traces</Link> — search, waterfall, flame graph, span table
            </li>
            <li>
              <Link to="/services">Services</Link> — rate, errors and latency per service, the service map
            </li>
            <li>
              <Link to="/hosts">Hosts</Link> — CPU, memory, disk and network per host
            </li>
          </ul>
        </div>
      </div>
    </div>
  );
}
