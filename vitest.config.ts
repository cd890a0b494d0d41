import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{core,src-main,src-renderer,server,bench,e2e}/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
