import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';
import type { Plugin } from 'vite';

/** Non-ASCII characters of the bundle as \uXXXX escapes, so the inlined script does not depend on the page's
 * declared charset (valid in strings, templates, regular expressions and identifiers alike). */
function asciiOnly(): Plugin {
  return {
    name: 'automix-ascii-only',
    enforce: 'post',
    generateBundle(_options, bundle) {
      for (const chunk of Object.values(bundle)) {
        if (chunk.type === 'chunk') {
          chunk.code = chunk.code.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
        }
      }
    },
  };
}

// The build output is two files inlined by the Python side into one self-contained HTML page per report:
// ../automix/web/app.js (one ES module chunk, no dynamic imports, no external URLs) and ../automix/web/app.css.
export default defineConfig({
  plugins: [react(), asciiOnly()],
  base: './',
  build: {
    outDir: '../automix/web',
    emptyOutDir: true,
    target: 'es2020',
    minify: true,
    sourcemap: false,
    cssCodeSplit: false,
    modulePreload: false,
    assetsInlineLimit: 100_000_000,
    reportCompressedSize: true,
    rollupOptions: {
      input: 'src/main.tsx',
      output: {
        format: 'es',
        entryFileNames: 'app.js',
        assetFileNames: 'app[extname]',
        inlineDynamicImports: true,
      },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
  },
});
