// A run waiting at a pause stage: approve it from its page with a comment and see it finish.
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
  return { buttons, after: await page.locator(".run-head button").allInnerTexts() };
});
