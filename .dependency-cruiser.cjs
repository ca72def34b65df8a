/**
 * The layers of docs/STYLE (README, Architecture), checked by `npm run lint` (depcruise src).
 * A capability is a top-level folder of src/ other than infra, common, config and generated.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-plain-typescript',
      comment: 'A domain/ folder is plain TypeScript: no Nest, no Prisma, no infrastructure.',
      severity: 'error',
      from: { path: '^src/[^/]+/domain/' },
      to: { path: ['^node_modules/@nestjs/', '^node_modules/@prisma/', '^src/infra/', '^src/generated/'] },
    },
    {
      name: 'no-other-capability-repository',
      comment: "A capability owns its tables: it never imports another capability's repository (it asks that capability's service).",
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/[^/]+/.*\\.repository\\.ts$', pathNot: '^src/$1/' },
    },
    {
      name: 'infra-imports-no-capability',
      comment: 'Infrastructure is below the capabilities: it is given what it needs, it does not reach into them.',
      severity: 'error',
      from: { path: '^src/infra/' },
      to: { path: '^src/[^/]+/', pathNot: '^src/(infra|common|config|generated)/' },
    },
    {
      name: 'controllers-import-no-repository',
      comment: 'Controllers are thin: they call a service, never a repository.',
      severity: 'error',
      from: { path: '\\.controller\\.ts$' },
      to: { path: '\\.repository\\.ts$' },
    },
    {
      name: 'nothing-imports-bench-or-demo',
      comment:
        'The benchmark (bench/) and the demo (src/demo, started by its own entry point src/demo/main.ts) are composition roots of ' +
        'their own: the service, src/main.ts included, does not depend on them.',
      severity: 'error',
      from: { pathNot: '^(bench|src/demo)/' },
      to: { path: '^(bench|src/demo)/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to nothing.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/generated/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
