import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

// The desktop renderer. Built to dist/renderer and served either from Electron's app:// scheme or by the
// headless site agent on 127.0.0.1; relative asset paths work for both.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    // Served from disk (app://) or loopback, never over a network: one bundle with the chart library is fine.
    chunkSizeWarningLimit: 1500,
    sourcemap: true,
  },
});
