// Writes every TypeScript code block of the user-facing guides to .tmp/doc-code/, one module per block,
// so `npm run typecheck` compiles them with the rest of the project: the examples a reader copies must
// compile as written. `pg-arbiter` imports resolve to src/ through the `paths` of tsconfig.json, so no
// build is needed.
//
// A block that continues an earlier one (it uses the `emails` queue set up above it) states what it
// assumes in an HTML comment right before it, which renders as nothing:
//
//   <!-- doc-code: declare const emails: Queue<{ to: string }>; -->
//
// The comment's text (it may span lines) goes at the top of the module. `<!-- doc-code: skip -->` leaves
// a block out (say why after it), for code that needs files of the reader's own project.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, '.tmp/doc-code');
const sources = [
  'README.md',
  'docs/production.md',
  'docs/adapters.md',
  'docs/testing.md',
  'docs/workflows.md',
];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
let count = 0;
for (const source of sources) {
  const lines = readFileSync(join(root, source), 'utf8').split('\n');
  let block = null;
  // The last `<!-- doc-code: … -->` comment and the line it ends on.
  let context = null;
  lines.forEach((line, i) => {
    if (block === null && /^```(ts|typescript)\s*$/.test(line)) {
      // The comment counts only when nothing but blank lines stands between it and the block.
      const own = context !== null && lines.slice(context.end + 1, i).every((l) => l.trim() === '');
      block = { start: i + 1, code: [], context: own ? context.text : '' };
    } else if (block !== null && /^```\s*$/.test(line)) {
      if (!block.context.trim().startsWith('skip')) {
        const name = `${basename(source, '.md').toLowerCase()}-line-${block.start}.ts`;
        // The header names the origin in tsc's messages; `export {}` makes every block its own module.
        const header = `// ${source}, the code block at line ${block.start}\n${block.context}\n`;
        writeFileSync(join(out, name), header + block.code.join('\n') + '\nexport {};\n');
        count++;
      }
      block = null;
    } else if (block !== null) block.code.push(line);
    else if (line.startsWith('<!-- doc-code:')) {
      let end = i;
      while (!lines[end].includes('-->') && end < lines.length - 1) end++;
      const text = lines.slice(i, end + 1).join('\n');
      context = { text: text.slice('<!-- doc-code:'.length, text.lastIndexOf('-->')), end };
    }
  });
}
console.log(`${count} code blocks of ${sources.join(', ')} written to .tmp/doc-code for the type check`);
