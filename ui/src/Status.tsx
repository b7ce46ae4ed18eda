import type { Status } from "./api";

/** A state as a coloured badge (text, so a screen reader and a test read it too). */
export function StatusBadge({ status }: { status: Status }) {
  return (
    <span className={`status status-${status}`} data-status={status}>
      {status}
    </span>
  );
}
