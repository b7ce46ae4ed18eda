// Where each view of a run lives: /runs/ID[/jobs/PATH][?view=...&tab=...]. The view (graph,
// timeline, history) and the drawer's tab are in the URL, so that a link shows the same
// thing and back and forward step through what a person looked at.

export const VIEWS = ["graph", "timeline", "history"] as const;
export type RunView = (typeof VIEWS)[number];
export const TABS = ["logs", "attempts", "history"] as const;
export type JobTab = (typeof TABS)[number];

/** The view a query asks for; the graph when it names none or one that does not exist. */
export function viewOf(search: URLSearchParams): RunView {
  const asked = search.get("view");
  return (VIEWS as readonly string[]).includes(asked ?? "") ? (asked as RunView) : "graph";
}

export function tabOf(search: URLSearchParams): JobTab {
  const asked = search.get("tab");
  return (TABS as readonly string[]).includes(asked ?? "") ? (asked as JobTab) : "logs";
}

/** The URL of a run's view, with a job's drawer open at a tab if given; defaults are left
 * out, so that the plain /runs/ID stays the graph and a job's URL its logs. */
export function runUrl(runId: number, view: RunView = "graph", job?: string, tab: JobTab = "logs"): string {
  const query = new URLSearchParams();
  if (view !== "graph") query.set("view", view);
  let path = `/runs/${runId}`;
  if (job !== undefined) {
    path += `/jobs/${encodeURIComponent(job)}`;
    if (tab !== "logs") query.set("tab", tab);
  }
  const search = query.toString();
  return search ? `${path}?${search}` : path;
}
