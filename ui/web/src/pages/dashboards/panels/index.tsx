// The panel bodies by Grafana panel type.

import type { ComponentType } from "preact";
import { BarGaugePanel } from "./BarGauge";
import { GaugePanel } from "./Gauge";
import { HeatmapPanel } from "./Heatmap";
import { LogsPanel } from "./Logs";
import { StatPanel } from "./Stat";
import { TablePanel } from "./Table";
import { TextPanel } from "./Text";
import { TimeSeriesPanel } from "./TimeSeries";
import type { PanelProps } from "./types";

export const BODIES: Record<string, ComponentType<PanelProps>> = {
  timeseries: TimeSeriesPanel,
  stat: StatPanel,
  gauge: GaugePanel,
  bargauge: BarGaugePanel,
  table: TablePanel,
  text: TextPanel,
  logs: LogsPanel,
  heatmap: HeatmapPanel,
  traces: TablePanel,
};

/** Panel types that need no query. */
export const STATIC_TYPES = new Set(["text"]);
