import { Link, useSearchParams } from "react-router";
import { api, duration, LIVE, when, type Run } from "../api";
import { Listing } from "../Listing";
import { StatusBadge } from "../Status";
import { namespaceQuery, useNamespace, withNamespace } from "../namespace";
import { usePolling } from "../usePolling";

export function RunsList() {
  const [params] = useSearchParams();
  const flow = params.get("flow");
  const namespace = useNamespace();
  const query = namespaceQuery({ limit: "100" }, flow ? null : namespace);
  if (flow) query.set("flow", flow);
  const { data, error } = usePolling(
    () => api<{ runs: Run[] }>(`/api/v1/runs?${query}`),
    [flow, namespace],
    // New runs appear without a reload; while some run is live, its state changes too.
    () => true,
    3000,
  );
  const runs = data?.runs;
  return (
    <section>
      <h1>
        Runs{flow && <span className="muted"> of {flow}</span>}
        {!flow && namespace && <span className="muted"> in {namespace}</span>}
        {flow && (
          <Link className="small" to={withNamespace("/runs", namespace)}>
            all runs
          </Link>
        )}
      </h1>
      {error && <p className="error">{error}</p>}
      <Listing
        items={runs}
        empty={namespace && !flow ? `No runs in ${namespace} yet.` : "No runs yet."}
        testId="runs"
        heads={["Run", "Flow", "State", "Started", "Took", "Reason"]}
        row={(run) => (
          <tr key={run.id} data-run={run.id}>
            <td>
              <Link to={`/runs/${run.id}`}>#{run.id}</Link>
            </td>
            <td>
              <Link to={`/flows/${run.uri}`}>{run.uri}</Link>{" "}
              <span className="muted">#{run.number}</span>
            </td>
            <td>
              <StatusBadge status={run.status} />
            </td>
            <td>{when(run.started_at ?? run.created_at)}</td>
            <td>{LIVE.has(run.status) ? "" : duration(run.started_at, run.finished_at)}</td>
            <td className="reason">{run.reason}</td>
          </tr>
        )}
      />
    </section>
  );
}
