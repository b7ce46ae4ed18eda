import { Link, useSearchParams } from "react-router";
import { api, duration, LIVE, when, type Run } from "../api";
import { Listing } from "../Listing";
import { StatusBadge } from "../Status";
import { usePolling } from "../usePolling";

export function RunsList() {
  const [params] = useSearchParams();
  const flow = params.get("flow");
  const query = new URLSearchParams({ limit: "100" });
  if (flow) query.set("flow", flow);
  const { data, error } = usePolling(
    () => api<{ runs: Run[] }>(`/api/v1/runs?${query}`),
    [flow],
    // New runs appear without a reload; while some run is live, its state changes too.
    () => true,
    3000,
  );
  const runs = data?.runs;
  return (
    <section>
      <h1>
        Runs{flow && <span className="muted"> of {flow}</span>}
        {flow && (
          <Link className="small" to="/runs">
            all runs
          </Link>
        )}
      </h1>
      {error && <p className="error">{error}</p>}
      <Listing
        items={runs}
        empty="No runs yet."
        testId="runs"
        heads={["Run", "Flow", "State", "Started", "Took", "Reason"]}
        row={(run) => (
          <tr key={run.id} data-run={run.id}>
            <td>
              <Link to={`/runs/${run.id}`}>#{run.id}</Link>
            </td>
            <td>
              <Link to={`/runs?flow=${encodeURIComponent(run.uri)}`}>{run.uri}</Link>{" "}
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
