import type { ReactNode } from "react";

/** A table of ``items`` with its column ``heads``: "Loading…" until they come, ``empty`` for none. */
export function Listing<T>(props: {
  items: T[] | undefined;
  empty: string;
  testId: string;
  heads: string[];
  row: (item: T) => ReactNode;
}) {
  if (props.items === undefined) return <p className="muted">Loading…</p>;
  if (props.items.length === 0) return <p className="muted">{props.empty}</p>;
  return (
    <table className="list" data-testid={props.testId}>
      <thead>
        <tr>
          {props.heads.map((head) => (
            <th key={head}>{head}</th>
          ))}
        </tr>
      </thead>
      <tbody>{props.items.map(props.row)}</tbody>
    </table>
  );
}
