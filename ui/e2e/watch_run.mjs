// A failed run watched on its timeline: a job that failed once then passed on its retry
// shows two bars and two attempts, its history what its pre script changed; every view
// and tab is a URL that back and forward walk through. Then the failing job's red line,
// and "Rerun failed jobs" from the page: the new run keeps the job that passed, runs the
// failed one again (its bar drawn running, the axis growing), and turns green live. Env: COOPS_UI_URL, COOPS_UI_TOKEN, RUN_ID, GATE
// (a file whose creation lets the failing job pass), FLAKY, GATED (the two jobs' paths).
import { writeFileSync } from "node:fs";
import { axeViolations, BASE, main, screenshot, signIn } from "./browser.mjs";

const RUN = process.env.RUN_ID;
const FLAKY = process.env.FLAKY;
const GATED = process.env.GATED;
const here = () => {
  const url = new URL(window.location.href);
  return url.pathname + url.search;
};
const bars = (page) =>
  page.locator("[data-row]").evaluateAll((rows) =>
    Object.fromEntries(
      rows.map((row) => [row.dataset.row, [...row.querySelectorAll(".bar")].map((bar) => `${bar.dataset.attempt}:${bar.dataset.status}`)]),
    ),
  );

await main(async ({ page }) => {
  const result = { urls: [] };
  const where = async () => page.evaluate(here);
  await signIn(page, `/runs/${RUN}`);
  await page.waitForFunction(() => document.querySelector("h1 .status")?.dataset.status === "failure");

  // The graph, then the timeline by its link: a URL of its own.
  await page.locator("[data-job]").first().waitFor();
  await page.locator('a[data-view="timeline"]').click();
  await page.locator('[data-testid="timeline"] [data-row]').first().waitFor();
  result.urls.push(await where());
  result.bars = await bars(page);
  result.span = Number(await page.locator('[data-testid="timeline"]').getAttribute("data-span"));
  result.axeTimeline = await axeViolations(page);
  await screenshot(page, "timeline");

  // A row opens the job's drawer, the timeline kept; its tabs are URLs too.
  await page.locator(`[data-row="${FLAKY}"]`).click();
  await page.locator('[data-testid="drawer"]').waitFor();
  result.urls.push(await where());
  await page.locator('a[data-tab="attempts"]').click();
  await page.locator('[data-testid="attempts"]').waitFor();
  result.urls.push(await where());
  result.attempts = await page.locator('[data-testid="attempts"] tbody tr').evaluateAll((rows) =>
    rows.map((row) => [row.dataset.attempt, row.dataset.status, row.querySelector(".exit-code").textContent]),
  );
  result.axeAttempts = await axeViolations(page);
  await screenshot(page, "attempts");
  await page.locator('a[data-tab="history"]').click();
  await page.locator('[data-testid="history"]').waitFor();
  result.urls.push(await where());
  result.history = await page.locator('[data-testid="history"] tbody tr').allInnerTexts();
  result.digest = await page.locator('[data-testid="digest"]').innerText();
  // The component job's drawer: the digest it ran, a link to the component's page.
  await page.locator(`[data-row="${process.env.TELL}"]`).click();
  await page.waitForFunction((job) => window.location.pathname.endsWith(encodeURIComponent(job)), process.env.TELL);
  const componentLink = page.locator('[data-testid="drawer"] .facts a');
  result.component = {
    name: (await componentLink.innerText()).split("/").slice(-2).join("/"),
    digest: await page.locator('[data-testid="digest"]').innerText(),
    href: await componentLink.getAttribute("href"),
  };
  await page.goBack();
  await page.locator('[data-testid="history"]').waitFor();

  // Back: the attempts tab, the logs tab, the timeline without a drawer; forward again.
  const back = [];
  for (let i = 0; i < 3; i++) {
    const before = await where();
    await page.goBack();
    await page.waitForFunction((url) => window.location.pathname + window.location.search !== url, before);
    back.push(await where());
  }
  result.back = back;
  result.drawerAfterBack = await page.locator('[data-testid="drawer"]').count();
  await page.goForward();
  await page.goForward();
  await page.locator('[data-testid="attempts"]').waitFor();
  result.forward = await where();
  // A deep link opens the same thing in a new page load.
  await page.goto(`${BASE}/runs/${RUN}/jobs/${encodeURIComponent(FLAKY)}?view=history&tab=attempts`);
  await page.locator('[data-testid="attempts"]').waitFor();
  result.deepLink = {
    view: await page.locator(".run-body").getAttribute("data-view"),
    runHistory: await page.locator('.run-history [data-testid="history"] tbody tr').count(),
    attempts: await page.locator('[data-testid="attempts"] tbody tr').count(),
  };
  result.axeHistory = await axeViolations(page);

  // The failing job's log: its red line. Then rerun from the failed jobs.
  await page.goto(`${BASE}/runs/${RUN}/jobs/${encodeURIComponent(GATED)}?view=timeline`);
  await page.locator('[data-testid="log"][data-ended="yes"]').waitFor();
  result.redLines = await page.locator('[data-testid="log"] .ansi-red-fg').allInnerTexts();
  writeFileSync(process.env.GATE, "go\n");
  await page.getByRole("button", { name: "Rerun failed jobs" }).click();
  await page.waitForFunction((run) => !window.location.pathname.startsWith(`/runs/${run}`), RUN);
  result.rerunUrl = await where();
  // The failed job runs again (until the release file exists): a running bar, an axis that
  // grows with the clock, on the same page.
  const running = page.locator(`[data-row="${GATED}"] .bar.running`);
  await running.waitFor();
  result.liveBar = await running.getAttribute("data-status");
  const span = async () => Number(await page.locator('[data-testid="timeline"]').getAttribute("data-span"));
  const first = await span();
  await page.waitForFunction((was) => Number(document.querySelector('[data-testid="timeline"]').dataset.span) > was, first);
  result.liveSpans = [first, await span()];
  await screenshot(page, "rerun-running");
  writeFileSync(`${process.env.GATE}.release`, "go\n");
  await page.waitForFunction(() => document.querySelector("h1 .status")?.dataset.status === "success");
  await page.locator(`[data-row="${GATED}"] .bar`).first().waitFor();
  result.rerunRows = await page.locator("[data-row]").evaluateAll((rows) => rows.map((row) => [row.dataset.row, row.dataset.status]));
  result.rerunBars = await bars(page);
  result.keptRow = await page.locator(`[data-row="${FLAKY}"] .no-bar`).innerText();
  await page.locator(`[data-row="${FLAKY}"]`).click();
  await page.locator('a[data-tab="history"]').click();
  await page.locator('[data-testid="history"]').waitFor();
  result.keptHistory = await page.locator('[data-testid="history"] tbody tr').allInnerTexts();
  await screenshot(page, "rerun");
  return result;
});
