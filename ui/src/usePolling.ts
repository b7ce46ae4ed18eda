import { useEffect, useState } from "react";

interface Loaded<T> {
  /** the deps the data was loaded for (JSON) */
  key: string;
  data?: T;
  error: string | null;
}

/** The result of ``load``, loaded again every ``everyMs`` while ``again(result)`` says so.
 * When ``deps`` change (another namespace, another flow), what was loaded for the old ones is
 * not returned: undefined ("Loading…") until the new result comes, never the old list under
 * the new heading. */
export function usePolling<T>(
  load: () => Promise<T>,
  deps: unknown[],
  again: (result: T) => boolean,
  everyMs = 2000,
): { data: T | undefined; error: string | null } {
  const key = JSON.stringify(deps);
  const [loaded, setLoaded] = useState<Loaded<T>>({ key, error: null });
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const tick = () => {
      load().then(
        (result) => {
          if (stopped) return;
          setLoaded({ key, data: result, error: null });
          if (again(result)) timer = window.setTimeout(tick, everyMs);
        },
        (e: unknown) => {
          if (stopped) return;
          const error = e instanceof Error ? e.message : String(e);
          setLoaded((before) => ({ key, data: before.key === key ? before.data : undefined, error }));
          timer = window.setTimeout(tick, everyMs * 2);
        },
      );
    };
    tick();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return loaded.key === key ? { data: loaded.data, error: loaded.error } : { data: undefined, error: null };
}
