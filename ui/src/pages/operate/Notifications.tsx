import { Link } from "react-router";
import { api, type Run } from "../../api";
import { Listing } from "../../Listing";
import { namespaceQuery, useNamespace } from "../../namespace";
import { usePolling } from "../../usePolling";

interface Notification {
  id: number;
  kind: string;
  event: string;
  target: string;
  status: string;
  attempts: number;
  error: string | null;
  run: Run;
}

/** The notifications of the latest runs: receiver, status, attempts, error. */
async function recentNotifications(namespace: string | null): Promise<Notification[]> {
  const { runs } = await api<{ runs: Run[] }>(`/api/v1/runs?${namespaceQuery({ limit: "30" }, namespace)}`);
  const each = await Promise.all(
    runs.map((run) =>
      api<{ notifications: Omit<Notification, "run">[] }>(`/api/v1/runs/${run.id}/notifications`).then((n) => n.notifications.map((item) => ({ ...item, run }))),
    ),
  );
  return each.flat();
}

export function Notifications() {
  const namespace = useNamespace();
  const { data, error } = usePolling(() => recentNotifications(namespace), [namespace], () => true, 10000);
  return (
    <>
      <h1>Notifications sent</h1>
      <p className="muted">Of the latest 30 runs.</p>
      {error && <p className="error">{error}</p>}
      <Listing
        items={data}
        empty="No notification was sent for the latest runs."
        testId="notifications"
        heads={["Run", "Receiver", "Event", "Status", "Attempts", "Error"]}
        row={(item) => (
          <tr key={item.id} data-notification={item.id} data-status={item.status}>
            <td><Link to={`/runs/${item.run.id}`}>#{item.run.id}</Link> <span className="muted">{item.run.uri}</span></td>
            <td>{item.kind} <span className="muted">{item.target}</span></td>
            <td>{item.event}</td>
            <td>{item.status}</td>
            <td>{item.attempts}</td>
            <td className="reason">{item.error ?? ""}</td>
          </tr>
        )}
      />
    </>
  );
}
