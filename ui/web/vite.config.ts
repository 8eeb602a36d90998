import { defineConfig, loadEnv } from "vite";

// Production builds are driven by ui/build.rs, which passes
// `--outDir <OUT_DIR>/dist --emptyOutDir`; the output is embedded into the
// osprey binary and served from `/` (index.html) and `/assets/*`.
//
// For `npm run dev`, API calls are proxied to a running osprey server:
// OSPREY_URL=http://127.0.0.1:8080 npm run dev
export default defineConfig(({ mode }) => {
  const env = loadEnv(mode, ".", "OSPREY_");
  const target = env.OSPREY_URL ?? "http://127.0.0.1:8080";
  return {
    base: "/",
    publicDir: false,
    build: {
      target: "es2022",
      assetsDir: "assets",
      sourcemap: false,
      // Keep everything as files under /assets; never inline into index.html.
      assetsInlineLimit: 0,
    },
    server: {
      proxy: {
        "/api": { target, changeOrigin: true },
      },
    },
  };
});
