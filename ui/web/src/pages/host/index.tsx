import { Placeholder } from "../../components/Placeholder";
import type { PageProps } from "../../router";

export default function Host({ params }: PageProps) {
  return <Placeholder title="Host" subtitle={params.instance ?? ""} next="the host's CPU, memory, disk, filesystem and network time series." />;
}
