// axe-core on every page of the UI, in light and dark: the serious and critical violations
// of each. Env: COOPS_UI_URL, COOPS_UI_TOKEN, RUN_ID, JOB, COMPONENT, FLOW.
import { axeViolations, BASE, main } from "./browser.mjs";

const RUN = process.env.RUN_ID;
const PAGES = [
  ["/runs", '[data-testid="runs"]'],
  [`/runs/${RUN}`, "[data-job]"],
  [`/runs/${RUN}/jobs/${encodeURIComponent(process.env.JOB)}`, '[data-testid="log"][data-ended="yes"]'],
  ["/flows", '[data-testid="flows"]'],
  [`/flows/${process.env.FLOW}?view=split`, '[data-testid="flow-versions"]'],
  ["/flows/new", '[data-testid="check-state"]'],
  ["/components", '[data-testid="components"]'],
  [`/components/${process.env.COMPONENT}`, '[data-testid="versions"]'],
  ["/operate/deliveries", "h1"],
  ["/operate/schedules", "h1"],
  ["/operate/notifications", "h1"],
  ["/operate/secrets", "h1"],
  ["/operate/tokens", '[data-testid="tokens"]'],
];

await main(async ({ page }) => {
  const result = { pages: {}, checked: [] };
  await page.goto(`${BASE}/login`);
  await page.locator("#token").waitFor();
  result.pages["light /login"] = await axeViolations(page);
  await page.fill("#token", process.env.COOPS_UI_TOKEN);
  await page.click("button[type=submit]");
  await page.waitForSelector('[data-testid="who"]');
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [path, ready] of PAGES) {
      await page.goto(BASE + path);
      await page.locator(ready).first().waitFor();
      await page.waitForTimeout(300); // the editor's first check, the graph's fitting
      result.pages[`${scheme} ${path}`] = await axeViolations(page);
      result.checked.push(`${scheme} ${path}`);
    }
  }
  return result;
});
