// Lint keeps the process boundaries of DESIGN.md §8 visible and enforced: a file's process shows in its
// name and folder, and each process may only import what it can actually load.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((name) => [name, `${name}/*`, `node:${name}`, `node:${name}/*`]);
const noNode = {
  group: nodeBuiltins,
  message: 'Platform-free code imports no Node built-ins; move this into a *.node.ts file.',
};
const noElectron = {
  name: 'electron',
  message: 'Only *.main.ts and *.preload.ts files may import electron.',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'models/**', 'test-results/**', 'playwright-report/**'] },
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
    files: ['core/**/*.ts'],
    ignores: ['core/**/*.node.ts', 'core/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [noElectron],
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
          paths: [noElectron],
          patterns: [
            { group: nodeBuiltins, message: 'UI code runs in a sandboxed browser: no Node built-ins.' },
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
