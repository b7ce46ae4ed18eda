// The UI is built into the Python package (src/containerops/server/ui_dist, package data),
// which `coops server` serves at / on the same origin as the API.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../src/containerops/server/ui_dist",
    emptyOutDir: true,
    // No inline script anywhere: the server's Content-Security-Policy forbids it.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    // `npx vite` during development: the API of a `coops server` on port 8080.
    proxy: { "/api": "http://127.0.0.1:8080" },
  },
});
