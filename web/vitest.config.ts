// Vitest: the production build's config (vite.config.ts) plus two kinds of test. Pure
// modules (`*.test.ts`) run in Node; components (`*.test.tsx`) render into jsdom, with
// Testing Library, from props alone (no server, no fetch stubs).
import { defineConfig, mergeConfig } from "vitest/config";
import viteConfig from "./vite.config.ts";

export default mergeConfig(
  viteConfig,
  defineConfig({
    test: {
      projects: [
        {
          extends: true,
          test: { name: "unit", include: ["src/**/*.test.ts"], environment: "node" },
        },
        {
          extends: true,
          test: {
            name: "components",
            include: ["src/**/*.test.tsx"],
            environment: "jsdom",
            setupFiles: ["src/test/setup.ts"],
          },
        },
      ],
    },
  }),
);
