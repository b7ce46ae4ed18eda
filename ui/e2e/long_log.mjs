// A long job log in the drawer: only the lines in sight are in the page; search, jump to the
// first error, download. Env: COOPS_UI_URL, COOPS_UI_TOKEN, RUN_ID, JOB, LINES.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BASE, main, screenshot, signIn } from "./browser.mjs";

const LINES = Number(process.env.LINES);

await main(async ({ page }) => {
  const result = {};
  await signIn(page, "/runs");
  await page.goto(`${BASE}/runs/${process.env.RUN_ID}/jobs/${encodeURIComponent(process.env.JOB)}`);
  await page.waitForFunction((n) => document.querySelector('[data-testid="log"]')?.dataset.count === String(n), LINES, { timeout: 120000 });
  await page.locator('[data-testid="log"][data-ended="yes"]').waitFor();
  result.count = Number(await page.locator('[data-testid="log"]').getAttribute("data-count"));
  result.inPage = await page.locator('[data-testid="log"] .line').count();
  result.lastShown = (await page.locator('[data-testid="log"] .line').last().innerText()).trim();
  await page.fill('input[aria-label="Search the log"]', "disk full");
  await page.locator('[data-testid="log-matches"]', { hasText: "/" }).waitFor();
  result.matches = await page.locator('[data-testid="log-matches"]').innerText();
  result.currentMatch = (await page.locator('[data-testid="log"] .line.current').innerText()).trim();
  await page.fill('input[aria-label="Search the log"]', "");
  await page.locator('[data-testid="log"]').evaluate((log) => (log.scrollTop = 0));
  await page.getByRole("button", { name: "First error" }).click();
  const error = page.locator('[data-testid="log"] .line', { hasText: "ERROR: disk full" });
  await error.waitFor();
  result.errorVisible = await error.isVisible();
  result.errorRed = await error.locator(".ansi-red-fg").count();
  await screenshot(page, "long-log");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download" }).click()]);
  // saved here: a browser connected to (tests/ui's session chromium) gives no path of its own
  const saved = join(mkdtempSync(join(tmpdir(), "coops-ui-download-")), "log.txt");
  await download.saveAs(saved);
  const text = readFileSync(saved, "utf8");
  result.downloadName = download.suggestedFilename();
  result.downloadLines = text.split("\n").length - 1;
  result.downloadLast = text.trimEnd().split("\n").pop();
  return result;
});
