// Lint keeps the process boundaries of DESIGN.md §8 visible and enforced: a file's process shows in its
// name and folder, and each process may only import what it can actually load.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import { builtinModules } from 'node:module';
import processRules from './scripts/lint/process-rules.js';

// Exact specifiers (not gitignore-style patterns, which would also match our own folders named like
// built-ins, e.g. core/crypto/).
const nodeBuiltins = [...new Set(builtinModules.flatMap((name) => [name, `node:${name}`]))];
const noNodePaths = (message) => nodeBuiltins.map((name) => ({ name, message }));
const platformFreeMessage = 'Platform-free code imports no Node built-ins; move this into a *.node.ts file.';
const noNode = { group: ['node:*'], message: platformFreeMessage };
const noElectron = {
  name: 'electron',
  message: 'Only *.main.ts and *.preload.ts files may import electron.',
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'models/**',
      'test-results/**',
      'playwright-report/**',
      '.scratch/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-console': 'off',
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    files: ['**/*.{ts,tsx}'],
    plugins: { cohort: processRules },
    rules: { 'cohort/file-suffix': 'error', 'cohort/no-import-cycles': 'error' },
  },
  {
    files: ['core/**/*.ts'],
    ignores: ['core/**/*.node.ts', 'core/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [noElectron, ...noNodePaths(platformFreeMessage)],
          patterns: [
            noNode,
            {
              group: ['**/src-main/**', '**/server/**', '**/src-renderer/**'],
              message: 'core/ imports nothing from the apps.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['core/**/*.node.ts', 'core/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [noElectron],
          patterns: [
            {
              group: ['**/src-main/**', '**/server/**', '**/src-renderer/**'],
              message: 'core/ imports nothing from the apps.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src-main/**/*.ts'],
    ignores: ['src-main/**/*.main.ts', 'src-main/**/*.preload.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [noElectron],
          patterns: [
            { group: ['**/server/**', '**/src-renderer/**'], message: 'The site agent imports only core/.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src-main/**/*.preload.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'electron',
              importNames: ['ipcMain', 'app', 'BrowserWindow', 'shell'],
              message: 'A preload only bridges.',
            },
            ...noNodePaths('A sandboxed preload has no Node built-ins.'),
          ],
          patterns: [noNode],
        },
      ],
    },
  },
  {
    files: ['server/**/*.ts'],
    ignores: ['server/console/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [noElectron],
          patterns: [
            {
              group: ['**/src-main/**', '**/src-renderer/**'],
              message: 'The coordinator imports only core/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src-renderer/**/*.{ts,tsx}', 'server/console/**/*.{ts,tsx}'],
    ignores: ['**/vite.config.ts'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [noElectron, ...noNodePaths('UI code runs in a sandboxed browser: no Node built-ins.')],
          patterns: [
            { group: ['node:*'], message: 'UI code runs in a sandboxed browser: no Node built-ins.' },
            {
              group: ['**/src-main/**', '**/server/**', '**/core/**', '!**/server/console/**'],
              allowTypeImports: true,
              message:
                'UI code reaches the rest of the system only through type-only imports of its API contract.',
            },
          ],
        },
      ],
    },
  },
);
