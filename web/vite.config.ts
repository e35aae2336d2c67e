// Builds the explorer into static files for `hakgal serve` (index.html and
// content-hashed bundles under assets/). No inline scripts or styles: the
// server's Content-Security-Policy allows only files from its own origin.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: {
    target: "es2022",
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1024,
  },
});
