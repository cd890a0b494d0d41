import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeDir } from './make-dir.node.js';

const root = mkdtempSync(join(tmpdir(), 'cohort-make-dir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('makeDir', () => {
  it('creates missing parents with the given mode and accepts an existing directory', () => {
    const deep = join(root, 'a', 'b', 'c');
    makeDir(deep, 0o700);
    for (const dir of [join(root, 'a'), join(root, 'a', 'b'), deep]) {
      expect(statSync(dir).isDirectory()).toBe(true);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
    }
    expect(() => makeDir(deep, 0o700)).not.toThrow();
  });

  it('refuses a path through a file', () => {
    writeFileSync(join(root, 'file'), 'x');
    expect(() => makeDir(join(root, 'file', 'sub'))).toThrow(/ENOTDIR/);
    expect(() => makeDir(join(root, 'file'))).toThrow(/EEXIST/);
  });

  // Node 20's mkdir with { recursive: true } spins forever here.
  it.runIf(process.platform === 'linux')('reports an error under /proc instead of hanging', () => {
    expect(() => makeDir('/proc/cohort-no-such-dir/data')).toThrow(/ENOENT/);
  });
});
