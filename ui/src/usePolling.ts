import { useEffect, useState } from "react";

/** The result of ``load``, loaded again every ``everyMs`` while ``again(result)`` says so. */
export function usePolling<T>(
  load: () => Promise<T>,
  deps: unknown[],
  again: (result: T) => boolean,
  everyMs = 2000,
): { data: T | undefined; error: string | null } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const tick = () => {
      load().then(
        (result) => {
          if (stopped) return;
          setData(result);
          setError(null);
          if (again(result)) timer = window.setTimeout(tick, everyMs);
        },
        (e: unknown) => {
          if (stopped) return;
          setError(e instanceof Error ? e.message : String(e));
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
  }, deps);
  return { data, error };
}
