import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error -- plain ESM JavaScript without type declarations, loaded as ESLint loads it
import processRules from './process-rules.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Lints the given files (path → source) laid out in a fresh directory, and returns messages per file. */
async function lint(files: Record<string, string>): Promise<Record<string, string[]>> {
  const root = mkdtempSync(join(tmpdir(), 'cohort-lint-'));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const eslint = new ESLint({
    cwd: root,
    overrideConfigFile: true,
    overrideConfig: [
      {
        files: ['**/*.{ts,tsx}'],
        languageOptions: { parser: tseslint.parser as never },
        plugins: { cohort: processRules },
        rules: { 'cohort/file-suffix': 'error', 'cohort/no-import-cycles': 'error' },
      },
    ],
  });
  const results = await eslint.lintFiles(Object.keys(files));
  return Object.fromEntries(
    results.map((r) => [r.filePath.slice(root.length + 1), r.messages.map((m) => m.message)]),
  );
}

describe('cohort/file-suffix', () => {
  it('refuses Node-only imports in platform-free core files and accepts them in *.node.ts', async () => {
    const out = await lint({
      'core/a/plain.ts': "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n",
      'core/a/native.ts': "import Database from 'better-sqlite3';\nexport const d = Database;\n",
      'core/a/via-node-file.ts': "import { f } from './ok.node.js';\nexport const g = f;\n",
      'core/a/ok.node.ts': "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n",
      'core/a/type-only.ts': "import type { Stats } from 'node:fs';\nexport type S = Stats;\n",
    });
    expect(out['core/a/plain.ts']).toEqual([expect.stringContaining("'node:fs' is Node-only")]);
    expect(out['core/a/native.ts']).toEqual([expect.stringContaining("'better-sqlite3' is Node-only")]);
    expect(out['core/a/via-node-file.ts']).toEqual([expect.stringContaining("'./ok.node.js' is Node-only")]);
    expect(out['core/a/ok.node.ts']).toEqual([]);
    expect(out['core/a/type-only.ts']).toEqual([]);
  });

  it('asks a *.node.ts file that needs no Node to drop the suffix', async () => {
    const out = await lint({
      'core/b/pure.node.ts': 'export const add = (a: number, b: number) => a + b;\n',
      'core/b/global.node.ts': 'export const argv = () => process.argv;\n',
    });
    expect(out['core/b/pure.node.ts']).toEqual([expect.stringContaining('drop the .node suffix')]);
    expect(out['core/b/global.node.ts']).toEqual([]);
  });

  it('keeps DOM-only packages in *.dom files and Node out of them', async () => {
    const out = await lint({
      'src-renderer/x.ts': "import { createRoot } from 'react-dom/client';\nexport const r = createRoot;\n",
      'src-renderer/y.dom.ts':
        "import { createRoot } from 'react-dom/client';\nexport const r = createRoot;\n",
      'src-renderer/z.dom.ts': "import { join } from 'node:path';\nexport const j = join;\n",
    });
    expect(out['src-renderer/x.ts']).toEqual([expect.stringContaining('needs a DOM')]);
    expect(out['src-renderer/y.dom.ts']).toEqual([]);
    expect(out['src-renderer/z.dom.ts']).toEqual([expect.stringContaining('a *.dom file runs in a browser')]);
  });
});

describe('cohort/no-import-cycles', () => {
  it('reports a value-import cycle and ignores type-only back edges', async () => {
    const out = await lint({
      'core/c/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'core/c/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
      'core/d/a.ts': "import { b } from './b.js';\nexport type A = number;\nexport const a = b;\n",
      'core/d/b.ts': "import type { A } from './a.js';\nexport const b: A = 1;\n",
    });
    expect(out['core/c/a.ts']).toEqual([expect.stringContaining('Import cycle')]);
    expect(out['core/c/b.ts']).toEqual([expect.stringContaining('Import cycle')]);
    expect(out['core/d/a.ts']).toEqual([]);
    expect(out['core/d/b.ts']).toEqual([]);
  });
});
