import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{core,src-main,src-renderer,server,bench,e2e,scripts}/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
