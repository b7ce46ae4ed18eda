// Which action buttons a run's page shows to the signed-in token (env COOPS_UI_TOKEN).
// Env: COOPS_UI_URL, COOPS_UI_TOKEN, RUN_ID.
import { main, signIn } from "./browser.mjs";

await main(async ({ page }) => {
  await signIn(page, `/runs/${process.env.RUN_ID}`);
  await page.locator("h1 .status").waitFor();
  await page.locator("[data-job]").first().waitFor();
  return {
    who: await page.locator('[data-testid="who"]').innerText(),
    buttons: await page.locator(".run-head button").allInnerTexts(),
  };
});
