// The components view: search as you type, a component's page (README rendered and
// sanitised, inputs, versions with their state), yank a version, "use in a new flow";
// then the operate views: tokens (created, shown once, revoked), secrets, schedules,
// deliveries. Env: COOPS_UI_URL, COOPS_UI_TOKEN.
import { BASE, main, screenshot, signIn } from "./browser.mjs";

await main(async ({ page }) => {
  const result = {};
  await page.addInitScript(() => {
    window.__xss = [];
  });
  await signIn(page, "/components");
  await page.locator('tr[data-component="acme/notify"]').waitFor();
  result.all = await page.locator("tr[data-component]").evaluateAll((rows) => rows.map((r) => r.dataset.component));
  // "/" puts the cursor in the search box; "?" lists the shortcuts.
  await page.keyboard.press("?");
  result.shortcuts = await page.locator('[data-testid="shortcuts"] kbd').allInnerTexts();
  await page.keyboard.press("Escape");
  result.shortcutsAfterEscape = await page.locator('[data-testid="shortcuts"]').count();
  await page.locator("h1").click();
  await page.keyboard.press("/");
  await page.keyboard.type("notif");
  await page.waitForFunction(() => document.querySelectorAll("tr[data-component]").length === 1);
  result.searched = await page.locator("tr[data-component]").evaluateAll((rows) => rows.map((r) => r.dataset.component));
  result.searchUrl = new URL(page.url()).search;
  await page.locator('tr[data-component="acme/notify"] a').click();
  await page.waitForURL(`${BASE}/components/acme/notify`);
  const readme = page.locator('[data-testid="readme"]');
  await readme.waitFor();
  result.readmeHeading = await readme.locator("h1").innerText();
  result.readmeBold = await readme.locator("strong").allInnerTexts();
  result.readmeText = await readme.innerText();
  result.dangerous = await page.evaluate(() => ({
    handlers: document.querySelectorAll("[onerror], [onclick], [onload]").length,
    scripts: document.querySelectorAll('[data-testid="readme"] script').length,
    jsLinks: [...document.querySelectorAll('[data-testid="readme"] a')].filter((a) => a.getAttribute("href")?.toLowerCase().includes("javascript")).length,
  }));
  result.inputs = await page.locator('[data-testid="inputs"] tbody tr').allInnerTexts();
  result.versionsBefore = await page.locator("tr[data-version]").evaluateAll((rows) => rows.map((r) => [r.dataset.version, r.dataset.state]));
  await screenshot(page, "component");
  page.once("dialog", (dialog) => void dialog.accept("broken build"));
  await page.locator('tr[data-version="1.0.0"]').getByRole("button", { name: "Yank" }).click();
  await page.waitForFunction(() => document.querySelector('tr[data-version="1.0.0"]')?.dataset.state === "yanked");
  result.yankedRow = await page.locator('tr[data-version="1.0.0"]').innerText();
  await page.getByRole("link", { name: "Use in a new flow" }).click();
  await page.waitForURL((url) => url.pathname === "/flows/new");
  await page.locator('[data-job="stage-1.action-1.notify"]').waitFor();
  result.newFlowYaml = await page.locator('[data-testid="yaml-editor"] .cm-content').innerText();

  // Operate: tokens
  await page.goto(`${BASE}/operate/tokens`);
  await page.locator('[data-testid="tokens"]').waitFor();
  await page.fill('input[aria-label="Token name"]', "from-the-ui");
  await page.getByRole("button", { name: "Create token" }).click();
  const shown = page.locator('[data-testid="new-token"]');
  await shown.waitFor();
  result.newToken = await shown.innerText();
  const row = page.locator("tr[data-token]", { hasText: "from-the-ui" });
  await row.waitFor();
  result.tokenState = await row.getAttribute("data-state");
  await row.getByRole("button", { name: "Revoke" }).click();
  await page.waitForFunction(() => [...document.querySelectorAll("tr[data-token]")].some((r) => r.textContent.includes("from-the-ui") && r.dataset.state === "revoked"));
  result.tokenRevoked = true;
  await page.reload();
  await page.locator('[data-testid="tokens"]').waitFor();
  result.tokenShownAfterReload = await page.locator('[data-testid="new-token"]').count();

  // Operate: secrets (names only)
  await page.goto(`${BASE}/operate/secrets`);
  await page.fill('input[aria-label="Namespace"]', "acme");
  await page.fill('input[aria-label="Secret name"]', "DEPLOY_KEY");
  await page.fill('input[aria-label="Secret value"]', "s3cret-value");
  await page.getByRole("button", { name: "Save secret" }).click();
  await page.locator('tr[data-secret="DEPLOY_KEY"]').waitFor();
  result.secrets = await page.locator('[data-testid="secrets"]').innerText();

  // Operate: schedules and deliveries
  await page.goto(`${BASE}/operate/schedules`);
  await page.locator('tr[data-schedule="acme/nightly/build"]').waitFor();
  result.schedule = await page.locator('tr[data-schedule="acme/nightly/build"]').innerText();
  await page.goto(`${BASE}/operate/deliveries`);
  await page.locator("tr[data-delivery]").first().waitFor();
  result.deliveries = await page.locator("tr[data-delivery]").evaluateAll((rows) => rows.map((r) => r.dataset.verdict));
  await screenshot(page, "operate");
  result.xss = await page.evaluate(() => window.__xss);
  return result;
});
