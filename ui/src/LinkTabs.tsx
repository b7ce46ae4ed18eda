import { Link } from "react-router";

/** Tabs that are links: each choice is a URL (back and forward step through them), the
 * current one marked for the eye and for a screen reader. ``kind`` names the data attribute
 * each link carries (``data-view="timeline"``), for tests. */
export function LinkTabs<T extends string>({
  names,
  labels,
  current,
  to,
  label,
  kind,
  className = "tabs",
}: {
  names: readonly T[];
  labels: Record<T, string>;
  current: T;
  to: (name: T) => string;
  label: string;
  kind: string;
  className?: string;
}) {
  return (
    <nav className={className} aria-label={label}>
      {names.map((name) => (
        <Link
          key={name}
          to={to(name)}
          className={name === current ? "active" : undefined}
          aria-current={name === current ? "page" : undefined}
          {...{ [`data-${kind}`]: name }}
        >
          {labels[name]}
        </Link>
      ))}
    </nav>
  );
}
