import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

// The coordinator's web console, served by the coordinator under /console/.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../../dist/console', import.meta.url)),
    emptyOutDir: true,
    // Served from disk (app://) or loopback, never over a network: one bundle with the chart library is fine.
    chunkSizeWarningLimit: 1500,
    sourcemap: true,
  },
});
