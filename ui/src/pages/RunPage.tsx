import { lazy, Suspense, useCallback, useEffect, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api, duration, LIVE, when, type Run } from "../api";
import { JobDrawer } from "../JobDrawer";
import { LinkTabs } from "../LinkTabs";
import { RunHistory } from "../RunHistory";
import { runUrl, tabOf, viewOf, VIEWS, type RunView } from "../runLinks";
import { RunTimeline } from "../RunTimeline";
import { useSession } from "../session";
import { StatusBadge } from "../Status";

/** The run, reloaded as its stream of state changes (GET /api/v1/runs/ID/events) says it
 * changed, while it is live. The stream starts with the changes so far: a burst of them is
 * one reload, and the document reloaded is the truth (no state is patched in from events). */
function useLiveRun(id: number): { run: Run | undefined; error: string | null; reload: () => void } {
  const [run, setRun] = useState<Run>();
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(
    () =>
      api<Run>(`/api/v1/runs/${id}`).then(
        (loaded) => {
          setRun(loaded);
          setError(null);
          return loaded;
        },
        (e: unknown) => {
          setError(e instanceof Error ? e.message : String(e));
          return undefined;
        },
      ),
    [id],
  );

  useEffect(() => {
    let stopped = false;
    let events: EventSource | undefined;
    let timer: number | undefined;
    const reloadSoon = () => {
      timer ??= window.setTimeout(() => {
        timer = undefined;
        void load();
      }, 150);
    };
    setRun(undefined);
    void load().then((loaded) => {
      if (stopped || !loaded || !LIVE.has(loaded.status)) return;
      events = new EventSource(`/api/v1/runs/${id}/events`);
      events.addEventListener("state", reloadSoon);
      // Closed for good (not a reconnect): a 401 when the session ended, which the reload
      // then sends to the sign-in page, or the server refusing; the page shows what it knows.
      events.onerror = () => {
        if (events?.readyState === EventSource.CLOSED) void load();
      };
      events.addEventListener("end", () => {
        events?.close();
        window.clearTimeout(timer);
        timer = undefined;
        void load();
      });
    });
    return () => {
      stopped = true;
      events?.close();
      window.clearTimeout(timer);
    };
  }, [id, load]);

  return { run, error, reload: () => void load() };
}

// The graph (@xyflow/react and dagre: most of this page's code) comes in its own chunk, so
// that the run is asked for, and a job's drawer and log shown, while it still loads.
const RunGraph = lazy(() => import("../RunGraph").then((module) => ({ default: module.RunGraph })));

const VIEW_NAMES: Record<RunView, string> = { graph: "Graph", timeline: "Timeline", history: "History" };

export function RunPage() {
  const params = useParams();
  const id = Number(params.id);
  const job = params.job;
  const [search] = useSearchParams();
  const view = viewOf(search);
  const tab = tabOf(search);
  const { run, error, reload } = useLiveRun(id);
  const { me } = useSession();
  const navigate = useNavigate();
  const [actionError, setActionError] = useState<string | null>(null);
  const [comment, setComment] = useState("");
  const canWrite = me?.scope !== "read";

  async function act(what: "cancel" | "rerun" | "approve" | "reject") {
    setActionError(null);
    try {
      const decision = what === "approve" || what === "reject";
      const body = decision && comment.trim() ? JSON.stringify({ comment: comment.trim() }) : undefined;
      const answer = await api<{ id: number }>(`/api/v1/runs/${id}/${what}`, { method: "POST", body });
      if (decision) setComment("");
      if (what === "rerun") navigate(runUrl(answer.id, view));
      else reload();
    } catch (e) {
      setActionError(e instanceof Error ? e.message : String(e));
    }
  }

  if (!Number.isInteger(id) || id < 1) return <p className="error">No run {params.id}.</p>;
  if (error && !run) return <p className="error">{error}</p>;
  if (!run) return <p className="muted">Loading…</p>;
  const live = LIVE.has(run.status);
  const jobLink = (path: string) => runUrl(run.id, view, path, tab);
  return (
    <section className="run-page">
      <div className="run-head">
        <h1>
          <Link to={`/runs?flow=${encodeURIComponent(run.uri)}`}>{run.uri}</Link> #{run.number}{" "}
          <StatusBadge status={run.status} />
        </h1>
        <p className="muted">
          run {run.id} · version {run.flow_version} · {run.executor} · created {when(run.created_at)}
          {run.started_at && ` · ${live ? "running for" : "took"} ${duration(run.started_at, run.finished_at)}`}
        </p>
        {run.reason && <p className="reason">{run.reason}</p>}
        {canWrite && (
          <p className="actions">
            {run.status === "paused" && (
              <>
                <input
                  aria-label="Comment on the decision"
                  placeholder="Comment (optional)"
                  value={comment}
                  maxLength={4000}
                  onChange={(e) => setComment(e.target.value)}
                />
                <button type="button" onClick={() => void act("approve")}>
                  Approve
                </button>
                <button type="button" onClick={() => void act("reject")}>
                  Reject
                </button>
              </>
            )}
            {live ? (
              <button type="button" onClick={() => void act("cancel")}>
                Cancel
              </button>
            ) : (
              run.status !== "success" && (
                <button type="button" onClick={() => void act("rerun")}>
                  Rerun failed jobs
                </button>
              )
            )}
            {actionError && <span className="error"> {actionError}</span>}
          </p>
        )}
      </div>
      <LinkTabs
        names={VIEWS}
        labels={VIEW_NAMES}
        current={view}
        to={(name) => runUrl(run.id, name, job, tab)}
        label="Run views"
        kind="view"
        className="tabs run-views"
      />
      <div className="run-body" data-view={view}>
        {view === "graph" && (
          <Suspense fallback={<p className="muted">Drawing the graph…</p>}>
            <RunGraph jobs={run.jobs ?? []} selected={job} link={jobLink} />
          </Suspense>
        )}
        {view === "timeline" && (
          <RunTimeline jobs={run.jobs ?? []} attempts={run.attempts ?? []} live={live} selected={job} link={jobLink} />
        )}
        {view === "history" && (
          <div className="run-history">
            <RunHistory changes={run.history ?? []} withJob />
          </div>
        )}
        {job && (
          <JobDrawer
            run={run}
            path={job}
            tab={tab}
            tabLink={(name) => runUrl(run.id, view, job, name)}
            onClose={() => navigate(runUrl(run.id, view))}
          />
        )}
      </div>
    </section>
  );
}
