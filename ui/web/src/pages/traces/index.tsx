import { Placeholder } from "../../components/Placeholder";

export default function Traces() {
  return (
    <Placeholder
      title="Traces"
      next="a search form (service, operation, tags, min/max duration, errors only) with a duration-over-time scatter plot above the results; each trace opens at /trace/{traceID}."
    />
  );
}
