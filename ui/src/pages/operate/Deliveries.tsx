import { Link } from "react-router";
import { api, when } from "../../api";
import { Listing } from "../../Listing";
import { namespaceQuery, useNamespace } from "../../namespace";
import { usePolling } from "../../usePolling";

interface Delivery {
  id: number;
  flow: string;
  kind: string;
  event: string | null;
  verdict: string;
  reason: string | null;
  status_code: number | null;
  run_id: number | null;
  received_at: string;
}

/** Webhook deliveries, newest first: what came, the verdict and why, the run it started. */
export function Deliveries() {
  const namespace = useNamespace();
  const { data, error } = usePolling(
    () => api<{ deliveries: Delivery[] }>(`/api/v1/deliveries?${namespaceQuery({ limit: "100" }, namespace)}`).then((d) => d.deliveries),
    [namespace],
    () => true,
    5000,
  );
  return (
    <>
      <h1>Webhook deliveries</h1>
      {error && <p className="error">{error}</p>}
      <Listing
        items={data}
        empty="No webhook deliveries yet."
        testId="deliveries"
        heads={["Received", "Flow", "Event", "Verdict", "Summary", "Run"]}
        row={(delivery) => (
          <tr key={delivery.id} data-delivery={delivery.id} data-verdict={delivery.verdict}>
            <td>{when(delivery.received_at)}</td>
            <td>{delivery.flow}</td>
            <td>{delivery.kind} {delivery.event ?? ""}</td>
            <td>{delivery.verdict}{delivery.status_code ? ` (${delivery.status_code})` : ""}</td>
            <td className="reason">{delivery.reason ?? ""}</td>
            <td>{delivery.run_id !== null && <Link to={`/runs/${delivery.run_id}`}>#{delivery.run_id}</Link>}</td>
          </tr>
        )}
      />
    </>
  );
}
