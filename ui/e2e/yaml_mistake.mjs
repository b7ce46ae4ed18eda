// Write a flow in the YAML editor: the canvas draws it; a mistake is marked at its line and
// column and blocks Save; once fixed, Save is possible again.
// Env: COOPS_UI_URL, COOPS_UI_TOKEN, FLOW_TEXT (with the mistake), FIXED_TEXT, MISTAKE_LINE.
import { main, screenshot, signIn } from "./browser.mjs";

const BAD = process.env.FLOW_TEXT;
const FIXED = process.env.FIXED_TEXT;

async function replaceYaml(page, text) {
  await page.locator('[data-testid="yaml-editor"] .cm-content').click();
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText(text);
}

await main(async ({ page }) => {
  const result = {};
  await signIn(page, "/flows/new?uri=ui/demo/typed");
  await page.locator('[data-testid="check-state"]').waitFor();
  await replaceYaml(page, BAD);
  await page.locator(`[data-testid="problems"] li[data-line="${process.env.MISTAKE_LINE}"]`).waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="check-state"]')?.textContent?.includes("problem"));
  result.listed = await page.locator('[data-testid="problems"] li').evaluateAll((items) => items.map((i) => ({ line: i.dataset.line, text: i.textContent })));
  result.jobsDrawn = await page.locator("[data-job]").evaluateAll((nodes) => nodes.map((n) => n.dataset.job));
  result.saveEnabled = await page.getByRole("button", { name: "Save", exact: true }).isEnabled();
  // The editor's own marker: in the gutter of that line, and the span underlined.
  const marked = await page.locator('[data-testid="yaml-editor"] .cm-lintRange-error').first();
  await marked.waitFor();
  result.markedText = await marked.innerText();
  result.markedLine = await page.evaluate(() => {
    const host = document.querySelector('[data-testid="yaml-editor"]');
    const range = host.shadowRoot.querySelector(".cm-lintRange-error");
    const line = range.closest(".cm-line");
    return [...host.shadowRoot.querySelectorAll(".cm-content .cm-line")].indexOf(line) + 1;
  });
  result.gutterMarkers = await page.locator('[data-testid="yaml-editor"] .cm-lint-marker-error').count();
  await screenshot(page, "editor-mistake");
  await replaceYaml(page, FIXED);
  await page.waitForFunction(() => document.querySelector('[data-testid="check-state"]')?.dataset.valid === "true");
  result.saveEnabledAfterFix = await page.getByRole("button", { name: "Save", exact: true }).isEnabled();
  return result;
});
