import { Placeholder } from "../../components/Placeholder";

export default function Hosts() {
  return (
    <Placeholder
      title="Hosts"
      next="USE per host (CPU, memory, disk, filesystem, network) from node_exporter or OTLP hostmetrics series, as a table with sparklines."
    />
  );
}
