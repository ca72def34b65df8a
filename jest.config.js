/**
 * Two tiers, Jest projects:
 * - unit: specs beside the code (src/**\/*.spec.ts), plain TypeScript with no database, Redis or
 *   build (`npm run test:unit`, seconds);
 * - integration: specs in test/ against the real PostgreSQL and Redis and the built service; its
 *   global setup makes the services ready and builds dist/ first.
 * `npm test` runs both.
 */
// ts-jest in isolated-modules mode: transpiles each file without type-checking
// (CI runs `tsc --noEmit` separately), which keeps the suite quick.
const tsJest = ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', diagnostics: false }];

const tier = (displayName, extra) => ({
  displayName,
  rootDir: '.',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  ...extra,
});

module.exports = {
  projects: [
    tier('unit', { testMatch: ['<rootDir>/src/**/*.spec.ts'] }),
    tier('integration', { testMatch: ['<rootDir>/test/**/*.spec.ts'], globalSetup: '<rootDir>/test/support/global-setup.ts' }),
  ],
  testTimeout: 60_000,
  maxWorkers: 2,
  reporters: ['default'],
};
