// Text: markdown (marked) or HTML, sanitised with DOMPurify as Grafana does,
// or code; variables in the content are substituted.

import DOMPurify from "dompurify";
import { marked } from "marked";
import { strOf } from "../model/grafana";
import { interpolate } from "../model/interpolate";
import type { PanelProps } from "./types";

export function TextPanel({ panel, scope }: PanelProps) {
  const mode = strOf(panel.options.mode, strOf(panel.raw.mode, "markdown"));
  const content = interpolate(strOf(panel.options.content, strOf(panel.raw.content)), scope);
  if (mode === "code") {
    return (
      <pre class="dash-text code" data-testid="panel-text">
        {content}
      </pre>
    );
  }
  const html = mode === "html" ? content : (marked.parse(content, { async: false }) as string);
  return <div class="dash-text markdown" data-testid="panel-text" dangerouslySetInnerHTML={{ __html: DOMPurify.sanitize(html) }} />;
}
