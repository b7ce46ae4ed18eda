// A run whose log lines, outputs and reason hold HTML and script: everything shows as text
// and nothing runs (checked without relying on the CSP: no element is made from them).
// Env: COOPS_UI_URL, COOPS_UI_TOKEN, RUN_ID, JOB.
import { BASE, main, screenshot, signIn } from "./browser.mjs";

const RUN = process.env.RUN_ID;
const JOB = process.env.JOB;

await main(async ({ page, problems }) => {
  // Anything the payloads managed to run would set one of these.
  await page.addInitScript(() => {
    window.__xss = [];
    window.alert = (text) => window.__xss.push(`alert ${text}`);
  });
  await signIn(page, `/runs/${RUN}/jobs/${encodeURIComponent(JOB)}`);
  await page.locator('[data-testid="log"][data-ended="yes"]').waitFor();
  await page.waitForSelector('[data-testid="outputs"]');
  await page.waitForTimeout(500); // time for an onerror to fire, had an <img> been made
  const result = {
    log: await page.locator('[data-testid="log"]').innerText(),
    outputs: await page.locator('[data-testid="outputs"]').innerText(),
    drawer: await page.locator('[data-testid="drawer"]').innerText(),
    ran: await page.evaluate(() => window.__xss),
    images: await page.locator("main img").count(),
    scripts: await page.locator("main script").count(),
    links: await page.locator("main a[href^='javascript']").count(),
    url: page.url().startsWith(BASE),
  };
  await screenshot(page, "xss");

  // Defence in depth: had markup slipped into the page, the Content-Security-Policy would
  // still refuse to run its inline handler (the refusal is expected in the console here).
  const before = problems.length;
  result.csp = await page.evaluate(async () => {
    const violations = [];
    document.addEventListener("securitypolicyviolation", (e) => violations.push(e.effectiveDirective));
    document.body.insertAdjacentHTML("beforeend", '<img src="/nothing.png" onerror="window.__xss.push(9)">');
    await new Promise((resolve) => setTimeout(resolve, 500));
    return { ran: window.__xss, violations };
  });
  result.cspConsole = problems.splice(before).filter((p) => !p.includes("404"));
  return result;
});
