// Who is signed in and the namespace switcher: the chosen namespace filters the runs, flows,
// components and operate pages, rides along the header's links and is in the URL (a deep
// link opens on it). Then a flow's page: versions with who saved them, the diff between two
// of them (unified, side by side, any two), its triggers, schedules and runs; the markup in
// a version shows as text. Env: COOPS_UI_URL, COOPS_UI_TOKEN, FLOW (namespace/repo/name).
import { axeViolations, BASE, main, screenshot, signIn } from "./browser.mjs";

const FLOW = process.env.FLOW;

const listed = (page, selector, attribute) =>
  page.locator(selector).evaluateAll((rows, name) => rows.map((row) => row.getAttribute(name)), attribute);

async function rowsOf(page, testId, attribute) {
  await page.locator(`[data-testid="${testId}"]`).waitFor();
  return listed(page, `[data-testid="${testId}"] tbody tr`, attribute);
}

const path = (page) => {
  const url = new URL(page.url());
  return url.pathname + url.search;
};

await main(async ({ page, context }) => {
  await page.addInitScript(() => {
    window.__xss = [];
    window.alert = (text) => window.__xss.push(`alert ${text}`);
  });
  const result = { axe: {} };
  await signIn(page, "/runs");
  result.who = await page.locator('[data-testid="who"]').innerText();
  const switcher = page.locator('[data-testid="namespace"]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="namespace"] option').length > 1);
  result.options = await switcher.locator("option").allInnerTexts();
  result.runsAll = await rowsOf(page, "runs", "data-run");

  // Chosen in the header: the URL says it, the list keeps to it, the role is shown.
  await switcher.selectOption("acme");
  await page.waitForURL((url) => url.search === "?ns=acme");
  await page.locator("h1", { hasText: "in acme" }).waitFor();
  await page.locator('[data-testid="runs"]').waitFor(); // what the page loaded for acme (never the list before)
  result.runsAcme = await page.locator('[data-testid="runs"] tbody tr td:nth-child(2) a').allInnerTexts();
  result.role = await page.locator('[data-testid="role"]').innerText();
  result.axe.runs = await axeViolations(page);

  // The header's links carry it to the other listings.
  await page.getByRole("link", { name: "Flows", exact: true }).click();
  await page.waitForURL((url) => url.pathname === "/flows");
  result.flowsUrl = path(page);
  result.flowsAcme = await rowsOf(page, "flows", "data-flow");
  await page.getByRole("link", { name: "Components", exact: true }).click();
  await page.waitForURL((url) => url.pathname === "/components");
  result.componentsUrl = path(page);
  await page.getByRole("link", { name: "Operate", exact: true }).click();
  await page.waitForURL((url) => url.pathname === "/operate/deliveries");
  result.operateUrl = path(page);
  await page.getByRole("link", { name: "Schedules" }).click();
  result.schedulesAcme = await rowsOf(page, "schedules", "data-schedule");

  // A deep link opens on its namespace, in a page of its own.
  const other = await context.newPage();
  await other.goto(`${BASE}/flows?ns=alice`);
  result.deepFlows = await rowsOf(other, "flows", "data-flow");
  result.deepSelected = await other.locator('[data-testid="namespace"]').inputValue();
  // All namespaces again.
  await other.locator('[data-testid="namespace"]').selectOption("");
  await other.waitForURL((url) => url.pathname === "/flows" && url.search === "");
  await other.waitForFunction(() => document.querySelectorAll('[data-testid="flows"] tbody tr').length > 1);
  result.flowsAll = await rowsOf(other, "flows", "data-flow");
  await other.close();

  // A flow's page, from the flows list.
  await page.getByRole("link", { name: "Flows", exact: true }).click();
  await page.locator(`[data-testid="flows"] a[href="/flows/${FLOW}"]`).click();
  await page.waitForURL((url) => url.pathname === `/flows/${FLOW}`);
  await page.locator('[data-testid="flow-versions"]').waitFor();
  result.versions = await page.locator('[data-testid="flow-versions"] tbody tr').evaluateAll((rows) =>
    rows.map((row) => [...row.querySelectorAll("td")].slice(0, 2).map((td) => td.innerText.trim())),
  );
  await page.locator('[data-testid="diff"]').waitFor();
  const unified = () =>
    page.locator('[data-testid="diff"] tr[data-kind]').evaluateAll((rows) =>
      rows.map((row) => [row.dataset.kind, row.querySelector(".diff-text").textContent]),
    );
  result.diffFromTo = [await page.locator('[data-testid="diff-from"]').inputValue(), await page.locator('[data-testid="diff-to"]').inputValue()];
  result.unified = await unified();
  result.stat = await page.locator('[data-testid="diff-stat"]').innerText();
  await page.waitForTimeout(300); // an <img> made from the text would have fired by now
  result.xss = await page.evaluate(() => window.__xss);
  result.images = await page.locator("main img").count();
  await screenshot(page, "flow-diff");
  // click, not check(): the view lives in the URL, and check() can read the radio in the
  // moment the page redraws for the new URL; what the click must do is waited for below.
  await page.getByLabel("side by side").click();
  await page.waitForURL((url) => url.searchParams.get("view") === "split");
  await page.locator('[data-testid="diff"][data-view="split"]').waitFor();
  result.splitChecked = await page.getByLabel("side by side").isChecked();
  result.split = await page.locator('[data-testid="diff"] tr:not(.diff-hunk)').evaluateAll((rows) =>
    rows.map((row) => {
      const cell = (side) => row.querySelector(`[data-side="${side}"]`)?.textContent ?? null;
      return [cell("old"), cell("new")];
    }),
  );
  result.splitUrl = path(page);
  // Any two versions: the first against the third.
  await page.locator('[data-testid="diff-from"]').selectOption("1");
  await page.locator('[data-testid="diff-to"]').selectOption("3");
  await page.waitForURL((url) => url.searchParams.get("from") === "1" && url.searchParams.get("to") === "3");
  await page.waitForFunction((stat) => document.querySelector('[data-testid="diff-stat"]')?.textContent === stat, process.env.STAT_1_3);
  result.oneToThree = await page.locator('[data-testid="diff-stat"]').innerText();
  // The same comparison from its URL, in a page of its own.
  const linked = await context.newPage();
  await linked.goto(`${BASE}${path(page)}`);
  await linked.locator('[data-testid="diff"][data-view="split"]').waitFor();
  await linked.waitForFunction((stat) => document.querySelector('[data-testid="diff-stat"]')?.textContent === stat, process.env.STAT_1_3);
  result.linkedFromTo = [await linked.locator('[data-testid="diff-from"]').inputValue(), await linked.locator('[data-testid="diff-to"]').inputValue()];
  await linked.close();
  result.triggers = await page.locator('[data-testid="flow-triggers"] tbody tr').evaluateAll((rows) =>
    rows.map((row) => [...row.querySelectorAll("td")].map((td) => td.innerText.trim())),
  );
  result.schedules = await rowsOf(page, "flow-schedules", "data-schedule");
  result.runs = await page.locator('[data-testid="flow-runs"] tbody tr').evaluateAll((rows) =>
    rows.map((row) => [...row.querySelectorAll("td")].slice(0, 3).map((td) => td.innerText.trim())),
  );
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    result.axe[`flow ${scheme}`] = await axeViolations(page);
  }
  return result;
});
