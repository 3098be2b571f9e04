// The production build goes to dist/, which the API serves at `/` (mairust/api/web_ui.py).
// `npm run dev` serves the sources with hot reload and sends the API's paths to a running
// `mairust up` (MAIRUST_API, default http://127.0.0.1:8000).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const api = process.env.MAIRUST_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false },
  server: {
    proxy: { "/api": api, "/healthz": api, "/openapi.json": api },
  },
});
