import { defineConfig } from 'vitest/config';

// Two suites, both run by `npm test`: fast unit tests beside the code, and end-to-end tests in
// test/ that start real servers, real Prometheus tooling and a packed copy of the package.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['src/**/*.test.ts'], setupFiles: ['test/helpers/setup-env.ts'] } },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          setupFiles: ['test/helpers/setup-env.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
