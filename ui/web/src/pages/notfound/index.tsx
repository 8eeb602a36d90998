import { Placeholder } from "../../components/Placeholder";
import type { PageProps } from "../../router";

export default function NotFound({ loc }: PageProps) {
  return <Placeholder title="No such view" subtitle={loc.path} lead="Nothing lives at this address. The views that exist are in the top bar and below." />;
}
