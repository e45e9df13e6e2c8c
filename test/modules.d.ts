// Test-only dev dependencies that ship no type declarations.
declare module 'pg-pool';
declare module 'pg-cursor';
