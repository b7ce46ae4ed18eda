// Sign in, see the runs list, open a run, watch its jobs turn green without reloading,
// open a job's logs (ANSI colours as classes, its output), go back and forward.
// Env: COOPS_UI_URL, COOPS_UI_TOKEN, RUN_ID, GATE (a file whose creation lets the run go on).
import { writeFileSync } from "node:fs";
import { BASE, jobStatus, main, screenshot, signIn } from "./browser.mjs";

const RUN = process.env.RUN_ID;
const GATE = process.env.GATE;
const FIRST = "build.compile.make";
const JOBS = [FIRST, "build.lint.check", "test.unit.pytest", "test.unit.shards"];

await main(async ({ page, context, problems }) => {
  const result = {};
  await signIn(page, "/runs");
  const row = page.locator(`tr[data-run="${RUN}"]`);
  await row.waitFor();
  result.listed = await row.innerText();
  await screenshot(page, "runs");

  const cookies = await context.cookies();
  const session = cookies.find((cookie) => cookie.name === "coops_session");
  result.cookie = session && { httpOnly: session.httpOnly, sameSite: session.sameSite };
  result.scriptSeesCookie = await page.evaluate(() => document.cookie.includes("coops_session"));
  result.localStorage = await page.evaluate(() => Object.keys(localStorage).length);

  await row.locator("a", { hasText: `#${RUN}` }).click();
  await page.waitForURL(`${BASE}/runs/${RUN}`);
  await page.locator(`[data-job="${FIRST}"]`).waitFor();
  // Proof that what follows comes live, not from a reload: this mark would be lost.
  await page.evaluate(() => ((window).__coopsMark = "same page"));
  result.before = Object.fromEntries(await Promise.all(JOBS.map(async (job) => [job, await jobStatus(page, job)])));
  await page.waitForFunction((job) => document.querySelector(`[data-job="${job}"]`)?.dataset.status === "running", FIRST);
  await screenshot(page, "run-running");
  writeFileSync(GATE, "go\n");
  for (const job of JOBS) {
    await page.waitForFunction((path) => document.querySelector(`[data-job="${path}"]`)?.dataset.status === "success", job);
  }
  await page.waitForFunction(() => document.querySelector("h1 .status")?.dataset.status === "success");
  result.after = Object.fromEntries(await Promise.all(JOBS.map(async (job) => [job, await jobStatus(page, job)])));
  result.matrix = await page.locator('[data-job="test.unit.shards"] .job-meta').innerText();
  result.samePage = await page.evaluate(() => (window).__coopsMark === "same page");
  await screenshot(page, "run-done");
  // The theme follows the system's: the same page in dark.
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.emulateMedia({ colorScheme: "light" });
  result.light = await background();
  await page.emulateMedia({ colorScheme: "dark" });
  result.dark = await background();
  await screenshot(page, "run-dark");
  await page.emulateMedia({ colorScheme: "light" });

  await page.locator(`[data-job="${FIRST}"]`).click();
  await page.waitForURL(`${BASE}/runs/${RUN}/jobs/${encodeURIComponent(FIRST)}`);
  const log = page.locator('[data-testid="log"][data-ended="yes"]');
  await log.waitFor();
  result.log = await log.innerText();
  result.redLines = await page.locator('[data-testid="log"] .ansi-red-fg').allInnerTexts();
  result.outputs = await page.locator('[data-testid="outputs"]').innerText();
  await screenshot(page, "job-logs");

  await page.goBack();
  await page.waitForURL(`${BASE}/runs/${RUN}`);
  result.drawerAfterBack = await page.locator('[data-testid="drawer"]').count();
  await page.goBack();
  await page.waitForURL(`${BASE}/runs`);
  await page.goForward();
  await page.waitForURL(`${BASE}/runs/${RUN}`);
  await page.locator(`[data-job="${FIRST}"]`).waitFor();
  result.forward = page.url();

  await page.goto(`${BASE}/flows`);
  const flowRow = page.locator('tr[data-flow="ui/demo/live"]');
  await flowRow.waitFor();
  result.flowResults = await flowRow.locator("[data-status]").evaluateAll((badges) => badges.map((b) => b.dataset.status));

  // Signing out ends the session: the cookie is gone and the API no longer answers.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL((url) => url.pathname === "/login");
  result.cookieAfterSignOut = (await context.cookies()).some((cookie) => cookie.name === "coops_session");
  const before = problems.length;
  result.whoamiAfterSignOut = await page.evaluate(async () => (await fetch("/api/v1/whoami")).status);
  result.consoleAfterSignOut = problems.splice(before); // that 401, as the browser logs it
  return result;
});
