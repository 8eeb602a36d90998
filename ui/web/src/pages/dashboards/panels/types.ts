// What every panel body is given: the panel, its data, its size and scope.

import type { Panel } from "../model/grafana";
import type { Scope } from "../model/interpolate";
import type { PanelData } from "../model/query";

export interface PanelProps {
  panel: Panel;
  data: PanelData;
  /** The body's size in CSS px (inside the frame's title bar). */
  width: number;
  height: number;
  scope: Scope;
  /** The dashboard's range (epoch ms). */
  range: { start: number; end: number };
  onZoom: (start: number, end: number) => void;
}
