// Draw a three-stage flow from an empty page: drag the shell component from the palette onto
// each stage's action, fill its script in the job's form, watch the YAML follow, save, run,
// watch the run's nodes turn green and read a job's log.
// Env: COOPS_UI_URL, COOPS_UI_TOKEN, FLOW_URI.
import { BASE, main, screenshot, signIn } from "./browser.mjs";

const URI = process.env.FLOW_URI;

async function yamlText(page) {
  return page.locator('[data-testid="yaml-editor"] .cm-content').innerText();
}

async function waitValid(page) {
  await page.waitForFunction(() => document.querySelector('[data-testid="check-state"]')?.dataset.valid === "true");
}

await main(async ({ page }) => {
  const result = {};
  await signIn(page, `/flows/new?uri=${encodeURIComponent(URI)}`);
  await page.locator('[data-component="library/shell"]').waitFor();
  await page.getByRole("button", { name: "Add stage" }).click();
  await page.getByRole("button", { name: "Add stage" }).click();
  await page.locator('[data-action="stage-3.action-1"]').waitFor();
  result.stagesDrawn = await page.locator(".editor-stage").evaluateAll((nodes) => nodes.map((n) => n.dataset.stage));
  // The palette searches as you type.
  await page.fill('input[aria-label="Search components"]', "shell");
  await page.waitForFunction(() => document.querySelectorAll(".palette-item").length === 1);
  result.searched = await page.locator(".palette-item").evaluateAll((items) => items.map((i) => i.dataset.component));
  for (const [n, stage] of ["stage-1", "stage-2", "stage-3"].entries()) {
    await page.dragAndDrop('[data-component="library/shell"]', `[data-action="${stage}.action-1"]`);
    const job = page.locator(`[data-job="${stage}.action-1.shell"]`);
    await job.waitFor();
    await page.locator('[data-testid="job-panel"] #input-script').waitFor();
    await page.fill('[data-testid="job-panel"] #input-script', `echo step ${n + 1} of ${stage}`);
    await page.waitForFunction((text) => document.querySelector('[data-testid="yaml-editor"]').shadowRoot.querySelector(".cm-content")?.textContent?.includes(text), `echo step ${n + 1} of ${stage}`);
  }
  await page.fill('[data-testid="job-panel"] #job-timeout', "5m");
  await waitValid(page);
  result.yaml = await yamlText(page);
  await screenshot(page, "editor");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.locator('[data-testid="editor-message"]').waitFor();
  result.saved = await page.locator('[data-testid="editor-message"]').innerText();
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await page.waitForURL((url) => /\/runs\/\d+$/.test(url.pathname));
  result.runUrl = page.url();
  const jobs = ["stage-1.action-1.shell", "stage-2.action-1.shell", "stage-3.action-1.shell"];
  for (const job of jobs) {
    await page.waitForFunction((path) => document.querySelector(`[data-job="${path}"]`)?.dataset.status === "success", job, { timeout: 120000 });
  }
  result.statuses = await page.locator("[data-job]").evaluateAll((nodes) => nodes.map((n) => n.dataset.status));
  await page.locator(`[data-job="${jobs[1]}"]`).click();
  const log = page.locator('[data-testid="log"][data-ended="yes"]');
  await log.waitFor();
  result.log = await log.innerText();
  await screenshot(page, "drawn-run-log");

  // The flow's newest version opens in the editor from the flows list; a change saves version 2.
  await page.goto(`${BASE}/flows`);
  await page.getByRole("link", { name: `Edit ${URI}` }).click();
  await page.waitForURL(`${BASE}/flows/${URI}/edit`);
  await page.locator('[data-job="stage-1.action-1.shell"]').click();
  await page.fill('[data-testid="job-panel"] #job-retries', "2");
  await waitValid(page);
  result.editedYaml = await yamlText(page);
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.locator('[data-testid="editor-message"]', { hasText: "version 2" }).waitFor();
  result.savedAgain = await page.locator('[data-testid="editor-message"]').innerText();
  return result;
});
