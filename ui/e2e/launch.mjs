// How the end-to-end scripts start Debian's chromium through npm's playwright-core
// (`npx playwright install` cannot download browsers on these machines).
export const LAUNCH = {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
};
