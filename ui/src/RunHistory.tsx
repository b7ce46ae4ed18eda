import { type Change, when } from "./api";
import { StatusBadge } from "./Status";

/** State changes, oldest first, with their reasons: what Lua's pre and post scripts
 * changed, skips, retries, pause decisions. ``withJob`` adds the job's column (the run's
 * whole history; a change of the run itself says "run"). */
export function RunHistory({ changes, withJob }: { changes: Change[]; withJob: boolean }) {
  if (changes.length === 0) return <p className="muted">No state change recorded yet.</p>;
  return (
    <table className="list history" data-testid="history">
      <thead>
        <tr>
          <th>At</th>
          {withJob && <th>Job</th>}
          <th>Attempt</th>
          <th>State</th>
          <th>Reason</th>
        </tr>
      </thead>
      <tbody>
        {changes.map((change, index) => (
          <tr key={index} data-change={change.status}>
            <td>{when(change.at)}</td>
            {withJob && <td className="mono">{change.job ?? "run"}</td>}
            <td>{change.attempt ?? "–"}</td>
            <td>
              <StatusBadge status={change.status} />
            </td>
            <td className="reason-cell">{change.reason ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
