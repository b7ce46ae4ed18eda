import { useState } from "react";
import { Link } from "react-router";
import { api, type Flow, type Run } from "../api";
import { Listing } from "../Listing";
import { StatusBadge } from "../Status";
import { namespaceQuery, useNamespace } from "../namespace";
import { usePolling } from "../usePolling";

interface FlowWithRuns extends Flow {
  recent: Run[];
}

const RECENT = 8;

async function flowsWithRuns(namespace: string | null): Promise<FlowWithRuns[]> {
  const { flows } = await api<{ flows: Flow[] }>(`/api/v1/flows?${namespaceQuery({ limit: "200" }, namespace)}`);
  return Promise.all(
    flows.map(async (flow) => {
      const query = new URLSearchParams({ flow: flow.uri, limit: String(RECENT) });
      const { runs } = await api<{ runs: Run[] }>(`/api/v1/runs?${query}`);
      return { ...flow, recent: runs };
    }),
  );
}

export function FlowsList() {
  const [search, setSearch] = useState("");
  const namespace = useNamespace();
  const { data, error } = usePolling(() => flowsWithRuns(namespace), [namespace], () => true, 10000);
  const shown = data?.filter((flow) => flow.uri.includes(search.trim()));
  return (
    <section>
      <h1>Flows{namespace && <span className="muted"> in {namespace}</span>}</h1>
      <input
        className="search"
        type="search"
        placeholder="Filter by namespace/repository/name"
        aria-label="Filter flows"
        value={search}
        onChange={(e) => setSearch(e.target.value)}
      />
      {error && <p className="error">{error}</p>}
      <Listing
        items={shown}
        empty={`No flows${search ? " match" : " yet"}.`}
        testId="flows"
        heads={["Flow", "Versions", "Runs", "Recent results (newest first)"]}
        row={(flow) => (
          <tr key={flow.id} data-flow={flow.uri}>
            <td>
              <Link to={`/flows/${flow.uri}`}>{flow.uri}</Link>{" "}
              <Link className="small" to={`/flows/${flow.uri}/edit`} aria-label={`Edit ${flow.uri}`}>
                edit
              </Link>
            </td>
            <td>{flow.versions}</td>
            <td>{flow.runs}</td>
            <td className="recent">
              {flow.recent.map((run) => (
                <Link key={run.id} to={`/runs/${run.id}`} title={`#${run.number}: ${run.status}`}>
                  <StatusBadge status={run.status} />
                </Link>
              ))}
            </td>
          </tr>
        )}
      />
    </section>
  );
}
