import { Placeholder } from "../../components/Placeholder";

export default function Services() {
  return (
    <Placeholder
      title="Services"
      next="a RED table of every service from the span metrics (rate, error %, p50/p95/p99, impact) and the service map from the service-graph series."
    />
  );
}
