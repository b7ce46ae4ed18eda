// A run waiting at a pause stage: approve it from its page with a comment and see it finish;
// the run's history then says who decided and why.
// Env: COOPS_UI_URL, COOPS_UI_TOKEN, RUN_ID.
import { main, screenshot, signIn } from "./browser.mjs";

await main(async ({ page }) => {
  await signIn(page, `/runs/${process.env.RUN_ID}`);
  await page.waitForFunction(() => document.querySelector("h1 .status")?.dataset.status === "paused");
  const buttons = await page.locator(".run-head button").allInnerTexts();
  await page.fill('input[aria-label="Comment on the decision"]', "looks <b>good</b>");
  await screenshot(page, "paused");
  await page.getByRole("button", { name: "Approve" }).click();
  await page.waitForFunction(() => document.querySelector("h1 .status")?.dataset.status === "success");
  const after = await page.locator(".run-head button").allInnerTexts();
  // The run's history view says who decided, and their comment, as text.
  await page.locator('a[data-view="history"]').click();
  await page.locator('[data-testid="history"]').waitFor();
  const history = await page.locator('[data-testid="history"] tbody tr').allInnerTexts();
  return { buttons, after, history, url: new URL(page.url()).search };
});
