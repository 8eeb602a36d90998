import { defineConfig, loadEnv } from "vite";

// Production builds are driven by ui/build.rs, which passes
// `--outDir <OUT_DIR>/dist --emptyOutDir`; the output is embedded into the
// osprey binary and served from `/` (index.html), `/assets/*` and, for the
// app's history routes (`/logs`, `/explore`, ...), index.html again.
//
// For `npm run dev`, API calls are proxied to a running osprey server:
// OSPREY_URL=http://127.0.0.1:8080 npm run dev
// (Vite's dev server already answers every history route with index.html.)
export default defineConfig(({ mode }) => {
  const env = loadEnv(mode, ".", "OSPREY_");
  const target = env.OSPREY_URL ?? "http://127.0.0.1:8080";
  return {
    base: "/",
    publicDir: false,
    appType: "spa",
    // Preact's automatic JSX runtime (no Babel, no preset plugin needed).
    oxc: {
      jsx: { runtime: "automatic", importSource: "preact" },
    },
    build: {
      target: "es2022",
      assetsDir: "assets",
      sourcemap: false,
      // Keep everything as files under /assets; never inline into index.html.
      assetsInlineLimit: 0,
      // vite prints each chunk's size and gzip size; the initial load (index
      // chunk + its static imports) must stay under 400 KB gzipped.
      reportCompressedSize: true,
      chunkSizeWarningLimit: 700,
    },
    server: {
      proxy: {
        "/api": { target, changeOrigin: true },
      },
    },
  };
});
