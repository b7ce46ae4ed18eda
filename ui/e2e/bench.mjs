// The browser side of bench/ui_browser.py: times what a person waits for, in chromium.
// Env: COOPS_UI_URL, COOPS_UI_TOKEN, BENCH_PLAN (JSON: rounds, graphRun, graphJobs, logRun,
// logJob, logLines, followUrl, followToken, followRun, followJob).
import { BASE, main, signIn } from "./browser.mjs";

const PLAN = JSON.parse(process.env.BENCH_PLAN);
const now = () => performance.now();

async function timed(fn) {
  const start = now();
  await fn();
  return now() - start;
}

await main(async ({ browser, page }) => {
  const result = { firstLoad: [], graph: [], click: [], logFirst: [], logAll: [] };
  await signIn(page, "/runs");
  const state = await page.context().storageState();
  for (let round = 0; round < PLAN.rounds; round++) {
    // First load of the runs page: a new context (empty cache) with the session cookie.
    const context = await browser.newContext({ storageState: state, viewport: { width: 1366, height: 820 } });
    const fresh = await context.newPage();
    result.firstLoad.push(await timed(async () => {
      await fresh.goto(`${BASE}/runs`);
      await fresh.locator('[data-testid="runs"]').waitFor();
    }));
    // A run of many jobs: every node drawn, then a click answered (the drawer opens).
    result.graph.push(await timed(async () => {
      await fresh.goto(`${BASE}/runs/${PLAN.graphRun}`);
      await fresh.waitForFunction((n) => document.querySelectorAll("[data-job]").length === n, PLAN.graphJobs, { polling: "raf", timeout: 60000 });
    }));
    // a node in sight (the graph is fitted: most of its 1,000 are small, many under others)
    // (the one nearest the graph's middle: the run's view tabs lie over its top edge)
    const inSight = await fresh.evaluate(() => {
      const graph = document.querySelector('[data-testid="graph"]').getBoundingClientRect();
      const middle = [graph.left + graph.width / 2, graph.top + graph.height / 2];
      let best = null;
      let bestDistance = Infinity;
      for (const node of document.querySelectorAll("[data-job]")) {
        const box = node.getBoundingClientRect();
        const [x, y] = [box.x + box.width / 2, box.y + box.height / 2];
        if (x < graph.left || x > graph.right || y < graph.top || y > graph.bottom) continue;
        if (document.elementFromPoint(x, y)?.closest("[data-job]") !== node) continue;
        const distance = Math.hypot(x - middle[0], y - middle[1]);
        if (distance < bestDistance) [best, bestDistance] = [node.dataset.job, distance];
      }
      return best;
    });
    if (!inSight) throw new Error("no job node in sight in the graph");
    result.click.push(await timed(async () => {
      await fresh.locator(`[data-job="${inSight}"]`).click();
      await fresh.locator('[data-testid="drawer"]').waitFor();
    }));
    // A long log: the first screen, then every line held.
    const logStart = now();
    await fresh.goto(`${BASE}/runs/${PLAN.logRun}/jobs/${encodeURIComponent(PLAN.logJob)}`);
    await fresh.locator('[data-testid="log"] .line').first().waitFor({ timeout: 60000 });
    result.logFirst.push(now() - logStart);
    await fresh.waitForFunction((n) => document.querySelector('[data-testid="log"]')?.dataset.count === String(n), PLAN.logLines, { timeout: 300000, polling: 200 });
    result.logAll.push(now() - logStart);
    await context.close();
  }
  // Following a job that prints fast: the longest gap between two frames while it runs.
  await page.goto(`${BASE}/runs/${PLAN.followRun}/jobs/${encodeURIComponent(PLAN.followJob)}`);
  await page.locator('[data-testid="log"]').waitFor();
  await page.evaluate(() => {
    window.__frames = [];
    let last = performance.now();
    const tick = (t) => {
      window.__frames.push(t - last);
      if (t - last > 50) (window.__long ??= []).push([Math.round(t - last), Math.round(t), document.querySelector('[data-testid="log"]')?.dataset.count]);
      last = t;
      if (!window.__stop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  // The job was held at a pause: approved now, it starts printing while the page follows.
  const approved = await page.evaluate(
    (run) => fetch(`/api/v1/runs/${run}/approve`, { method: "POST", headers: { "X-Coops-UI": "1", "Content-Type": "application/json" }, body: "{}" }).then((r) => r.status),
    PLAN.followRun,
  );
  if (approved >= 300) throw new Error(`approving run ${PLAN.followRun}: ${approved}`);
  await page.locator('[data-testid="log"][data-ended="yes"]').waitFor({ timeout: 300000 });
  result.followFrames = await page.evaluate(() => {
    window.__stop = true;
    return window.__frames;
  });
  result.longFrames = await page.evaluate(() => window.__long ?? []);
  result.followCount = Number(await page.locator('[data-testid="log"]').getAttribute("data-count"));
  result.followLast = (await page.locator('[data-testid="log"] .line').last().innerText()).trim();
  return result;
});
