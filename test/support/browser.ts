// A real Chromium for UI tests (Debian's /usr/bin/chromium through playwright-core), and the
// sign-in steps a person takes: OIDC at the test provider's login and consent pages, or an API token.
import fs from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { until } from './serve.js';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  await until('Chromium installed at /usr/bin/chromium', async () => fs.existsSync(CHROMIUM), 120_000, 1000);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/** Signs in at shipgate's sign-in page through the OIDC provider's login and consent pages. */
export async function signInOidc(page: Page, baseUrl: string, login: string): Promise<void> {
  await page.goto(`${baseUrl}/ui/signin`);
  await page.getByText('Sign in with your identity provider').click();
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any-password');
  await page.locator('button[type="submit"]').click();
  // Consent, the first time this account meets the client.
  await page.waitForURL((u) => u.pathname.startsWith('/ui') || /interaction/.test(u.pathname), { timeout: 15_000 });
  if (!new URL(page.url()).pathname.startsWith('/ui')) {
    await page.locator('button[type="submit"]').click();
  }
  await page.waitForURL((u) => u.pathname === '/ui', { timeout: 15_000 });
}

export async function signInToken(page: Page, baseUrl: string, token: string): Promise<void> {
  await page.goto(`${baseUrl}/ui/signin`);
  await page.locator('input[name="token"]').fill(token);
  await page.getByRole('button', { name: 'Sign in with a token' }).click();
  await page.waitForURL((u) => u.pathname === '/ui', { timeout: 15_000 });
}
