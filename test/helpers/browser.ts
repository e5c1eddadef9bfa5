/**
 * A real browser for the dashboard's test: Debian's Chromium, headless, driven by
 * playwright-core (which downloads no browser of its own). `.ci/run` installs Chromium when it is
 * missing; a machine without it skips the browser test and says why (`chromiumSkipReason`).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where Chromium is: $DISTRIBKV_CHROMIUM, else Debian's /usr/bin/chromium. */
export const CHROMIUM_PATH = process.env['DISTRIBKV_CHROMIUM'] || '/usr/bin/chromium';

/** Why the browser test cannot run here, or false when it can. */
export function chromiumSkipReason(): string | false {
  if (existsSync(CHROMIUM_PATH)) return false;
  return `no Chromium at ${CHROMIUM_PATH}: install it (apt-get install chromium; .ci/run does) or point DISTRIBKV_CHROMIUM at one`;
}

/** Headless Chromium; `--no-sandbox` because CI runs as root, where Chromium's sandbox refuses to start. */
export function launchChromium(): Promise<Browser> {
  const args = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args });
}
