/** One Jest run: unit specs beside the code (src/**\/*.spec.ts) and integration/e2e specs in test/. */
// ts-jest in isolated-modules mode: transpiles each file without type-checking
// (CI runs `tsc --noEmit` separately), which keeps the suite quick.
const tsJest = ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', diagnostics: false }];

module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'],
  transform: { '^.+\\.ts$': tsJest },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
  reporters: ['default'],
};
