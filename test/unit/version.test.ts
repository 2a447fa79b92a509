/** The version agents report at check-in is the package's own. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COURIER_VERSION } from '../../common/version.js';

describe('COURIER_VERSION', () => {
  it("is package.json's version", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(COURIER_VERSION).toBe(pkg.version);
  });
});
