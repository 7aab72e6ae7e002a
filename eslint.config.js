// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The three programs talk only over HTTP and the tunnel protocol: each may import `shared/`, never each other. */
const boundary = (self, others) => ({
  files: [`${self}/**/*.{ts,tsx}`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: others.map((o) => ({
        // Relative paths climbing out to the other program's top folder (shared/agent/ is not agent/).
        group: [1, 2, 3, 4, 5].flatMap((depth) => [`${'../'.repeat(depth)}${o}`, `${'../'.repeat(depth)}${o}/**`]),
        message: `${self}/ must not import ${o}/: programs talk over HTTP and the tunnel protocol only (see ARCHITECTURE.md).`,
      })),
    }],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.eslint.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-throw-literal': 'error',
    },
  },
  { files: ['**/*.js', '**/*.mjs', 'bin/hoop'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['**/*.js', '**/*.mjs', 'bin/hoop'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly' } },
  },
  boundary('cli', ['agent', 'gateway']),
  boundary('agent', ['cli', 'gateway']),
  boundary('gateway', ['cli', 'agent']),
  boundary('shared', ['cli', 'agent', 'gateway']),
  {
    // The engine interface is what engines depend on; it never depends on an engine.
    files: ['gateway/engines/engine.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['./*/**'], message: 'engine.ts may not import an engine folder: move shared types to gateway/policy/ or elsewhere.' }] }],
    },
  },
  {
    files: ['gateway/engines/*/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['node:net', 'node:tls', 'node:fs', 'node:http', 'pg'].map((name) => ({ name, message: 'protocol/ is a pure codec: no I/O.' })),
      }],
    },
  },
);
