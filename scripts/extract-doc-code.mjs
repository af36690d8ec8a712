// Writes every TypeScript code block of the user-facing guides (README.md, docs/production.md) to
// .tmp/doc-code/, one module per block, so `npm run typecheck` compiles them with the rest of the project:
// the examples a reader copies must compile as written. `pg-arbiter` imports resolve to src/ through the
// `paths` of tsconfig.json, so no build is needed.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, '.tmp/doc-code');
const sources = ['README.md', 'docs/production.md'];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
let count = 0;
for (const source of sources) {
  const lines = readFileSync(join(root, source), 'utf8').split('\n');
  let block = null;
  lines.forEach((line, i) => {
    if (block === null && /^```(ts|typescript)\s*$/.test(line)) block = { start: i + 1, code: [] };
    else if (block !== null && /^```\s*$/.test(line)) {
      const name = `${basename(source, '.md').toLowerCase()}-line-${block.start}.ts`;
      // The header names the origin in tsc's messages; `export {}` makes every block its own module.
      const header = `// ${source}, the code block at line ${block.start}\n`;
      writeFileSync(join(out, name), header + block.code.join('\n') + '\nexport {};\n');
      count++;
      block = null;
    } else if (block !== null) block.code.push(line);
  });
}
console.log(`${count} code blocks of ${sources.join(', ')} written to .tmp/doc-code for the type check`);
