import { Link } from "react-router";
import { api, when } from "../../api";
import { Listing } from "../../Listing";
import { namespaceQuery, useNamespace } from "../../namespace";
import { usePolling } from "../../usePolling";

export interface Schedule {
  id: number;
  flow: string;
  schedule: string;
  timezone: string;
  active: boolean;
  last_tick: string | null;
  next_tick: string | null;
  last_run_id: number | null;
  missed_ticks: number;
}

/** Cron triggers and their next ticks. */
export function Schedules() {
  const namespace = useNamespace();
  const { data, error } = usePolling(
    () => api<{ schedules: Schedule[] }>(`/api/v1/schedules?${namespaceQuery({}, namespace)}`).then((s) => s.schedules),
    [namespace],
    () => true,
    10000,
  );
  return (
    <>
      <h1>Schedules</h1>
      {error && <p className="error">{error}</p>}
      <Listing
        items={data}
        empty="No flow has a cron trigger."
        testId="schedules"
        heads={["Flow", "Schedule", "Next tick", "Last tick", "Last run", "Missed"]}
        row={(schedule) => (
          <tr key={schedule.id} data-schedule={schedule.flow}>
            <td>{schedule.flow}</td>
            <td className="mono">{schedule.schedule} <span className="muted">{schedule.timezone}</span>{schedule.active ? "" : " (inactive)"}</td>
            <td>{when(schedule.next_tick)}</td>
            <td>{when(schedule.last_tick)}</td>
            <td>{schedule.last_run_id !== null && <Link to={`/runs/${schedule.last_run_id}`}>#{schedule.last_run_id}</Link>}</td>
            <td>{schedule.missed_ticks}</td>
          </tr>
        )}
      />
    </>
  );
}
