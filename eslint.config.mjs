// @ts-check
// As `nest new` sets it up (typescript-eslint's type-checked recommendations), with
// eslint-config-prettier last so that formatting is Prettier's alone (`prettier --check` in
// `npm run lint`). The layers between folders are dependency-cruiser's (.dependency-cruiser.cjs).
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'dist-bench/', 'coverage/', 'data/', 'test-artifacts/', 'src/generated/', 'eslint.config.mjs'] },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node, ...globals.jest },
      sourceType: 'commonjs',
      parserOptions: { projectService: { allowDefaultProject: ['prisma.config.ts'] }, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-floating-promises': 'warn',
      '@typescript-eslint/no-unsafe-argument': 'warn',
      // DTOs' static `of` mappers are passed to map(): they use no `this`
      '@typescript-eslint/unbound-method': ['error', { ignoreStatic: true }],
      // `_`-names and rest siblings say "deliberately left out"
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Tests read HTTP answers through supertest, whose `res.body` is `any` by design: they check
    // its shape with expect(), so the rules against flowing `any` values say nothing there.
    files: ['test/**/*.ts', '**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // test doubles stand in for async functions without awaiting anything themselves
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // plain CommonJS scripts and configs, outside the TypeScript project
    files: ['**/*.js', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
