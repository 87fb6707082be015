/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The UI is served to the Tauri window from ui/dist (tauri.conf.json's
// frontendDist); there is no dev server in the loop.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    // No inline <script> or data: modules: the CSP allows 'self' only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  resolve: process.env.VITEST ? { conditions: ['browser'] } : undefined,
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['src/test-setup.ts'],
    reporters: ['default', './src/test-summary.ts'],
    env: { TZ: 'UTC' },
  },
});
