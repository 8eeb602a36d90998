import { Link } from "../../components/Link";
import { Placeholder } from "../../components/Placeholder";
import type { PageProps } from "../../router";

export default function Service({ params }: PageProps) {
  const name = params.name ?? "";
  return (
    <Placeholder title="Service" subtitle={name} next="RED over time per operation, upstream and downstream services, the slowest and most failing operations.">
      <p>
        <Link to="/logs" params={{ service: name }}>
          Logs of {name}
        </Link>{" "}
        ·{" "}
        <Link to="/explore" params={{ q: `sum by (span_name) (rate(traces_span_metrics_calls_total{service_name=${JSON.stringify(name)}}[5m]))` }}>
          Call rate per operation
        </Link>
      </p>
    </Placeholder>
  );
}
