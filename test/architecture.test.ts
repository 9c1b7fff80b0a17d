import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The house drawn in code (docs/architecture.md): every part of src/ sits in one layer, and a file
// imports only from its own part, from a lower layer, or from a sibling part where its layer allows
// it. Type-only imports count: they couple the parts as much as value imports do.

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

interface Layer {
  name: string;
  /** Folders (with a trailing slash) and top-level files of src/. */
  parts: readonly string[];
  /** Whether parts of this layer may import each other (the sinks may not). */
  siblings: boolean;
}

/** Top to bottom: a part imports only downwards. */
const LAYERS: readonly Layer[] = [
  { name: 'entry points', parts: ['index.ts', 'global.ts', 'cli/', 'server/', 'integrations/'], siblings: true },
  {
    name: 'facade',
    parts: [
      'monitor.ts',
      'monitor-options.ts',
      'monitor-budgets.ts',
      'monitor-queries.ts',
      'compose.ts',
      'session.ts',
      'option-keys.ts',
      'config.ts',
      'config-schema.ts',
      'config-budgets.ts',
      'budget-seeding.ts',
      'budget-sync.ts',
    ],
    siblings: true,
  },
  { name: 'pipeline', parts: ['pipeline/'], siblings: false },
  { name: 'budget enforcement', parts: ['budgeting.ts'], siblings: false },
  { name: 'capture', parts: ['instrument/'], siblings: false },
  { name: 'advice', parts: ['advice/'], siblings: false },
  { name: 'reports', parts: ['reports/'], siblings: false },
  { name: 'sinks', parts: ['metrics/', 'ledger/', 'budgets/'], siblings: false },
  { name: 'pricing', parts: ['pricing/'], siblings: false },
  { name: 'providers', parts: ['providers/'], siblings: false },
  { name: 'the record', parts: ['usage.ts', 'usage-shape.ts', 'usage-fields.ts', 'record-sink.ts'], siblings: true },
  {
    name: 'basics',
    parts: ['errors.ts', 'logger.ts', 'time.ts', 'keys.ts', 'key-id.ts', 'context.ts', 'storage-dir.ts'],
    siblings: true,
  },
];

/** Downward imports the layers allow but the house does not: the pipeline knows no sink. */
const MUST_NOT: readonly [from: string, to: readonly string[]][] = [['pipeline/', ['metrics/', 'ledger/', 'budgets/']]];

/** Imports that go the wrong way today, each with why. The list only shrinks: an entry no longer needed fails. */
const KNOWN_EXCEPTIONS: readonly { from: string; to: string; why: string }[] = [];

/** One relative import: where it is written and what it names. */
interface Import {
  specifier: string;
  line: number;
}

/** `src` without its comments (strings kept, so that a comment marker inside a string is not one). */
function withoutComments(src: string): string {
  let out = '';
  let quote = '';
  for (let i = 0; i < src.length; ) {
    const c = src[i] as string;
    if (quote !== '') {
      out += c;
      if (c === '\\') {
        out += src[i + 1] ?? '';
        i += 2;
        continue;
      }
      if (c === quote) quote = '';
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const skipped = src.slice(i, end < 0 ? src.length : end + 2);
      out += skipped.replace(/[^\n]/g, ' '); // keeps line numbers
      i += skipped.length;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') quote = c;
    out += c;
    i++;
  }
  return out;
}

const FORMS = [
  // import x from '…', import type { X } from '…', export { x } from '…', export * from '…' (over lines too)
  /(?:^|[;\n}])\s*(?:import|export)\b[^;'"`]*?\bfrom\s*(['"])(\.{1,2}\/[^'"]+)\1/g,
  // import '…' (for its effect)
  /(?:^|[;\n}])\s*import\s*(['"])(\.{1,2}\/[^'"]+)\1/g,
  // import('…'), as a dynamic import or in a type (import('…').Name)
  /\bimport\s*\(\s*(['"])(\.{1,2}\/[^'"]+)\1\s*\)/g,
];

/** The relative imports of a TypeScript source (static, re-exports, dynamic, type-only; not those in comments). */
function relativeImports(source: string): Import[] {
  const code = withoutComments(source);
  const out: Import[] = [];
  for (const form of FORMS) {
    for (const m of code.matchAll(form)) {
      const at = (m.index ?? 0) + m[0].lastIndexOf(m[2] as string);
      out.push({ specifier: m[2] as string, line: code.slice(0, at).split('\n').length });
    }
  }
  return out;
}

/** The part a file of src/ belongs to: its folder under src/, or its own name at the top. */
function partOf(rel: string): string {
  const slash = rel.indexOf('/');
  return slash < 0 ? rel : rel.slice(0, slash + 1);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

interface Edge {
  from: string;
  to: string;
  line: number;
}

/** Every import between two different parts of src/ (non-test files), as paths relative to src/. */
function crossPartImports(): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file);
    for (const imp of relativeImports(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), imp.specifier);
      const to = relative(SRC, target);
      if (!existsSync(target)) throw new Error(`src/${from}:${imp.line} imports ${imp.specifier}, which does not exist`);
      if (partOf(from) !== partOf(to)) edges.push({ from, to, line: imp.line });
    }
  }
  return edges;
}

const layerOf = new Map(LAYERS.flatMap((layer, rank) => layer.parts.map((part) => [part, { layer, rank }] as const)));

/** Why `from` may not import `to`, or undefined when it may. */
function wrongWay(from: string, to: string): string | undefined {
  const a = layerOf.get(partOf(from));
  const b = layerOf.get(partOf(to));
  if (a === undefined || b === undefined) return undefined; // reported by the "every part has a layer" test
  if (MUST_NOT.some(([f, ts]) => f === partOf(from) && ts.includes(partOf(to)))) return `${partOf(from)} must not import ${partOf(to)}`;
  if (b.rank > a.rank) return undefined;
  if (b.rank === a.rank && a.layer.siblings) return undefined;
  if (b.rank === a.rank) return `${partOf(from)} and ${partOf(to)} are both ${a.layer.name} and must not import each other`;
  return `${a.layer.name} (${partOf(from)}) imports upwards, from ${b.layer.name} (${partOf(to)})`;
}

describe('the import direction of src/', () => {
  it('reads every form of relative import, and none in comments', () => {
    const source = [
      "import { a } from './a.ts';",
      "import type { B } from '../b.ts';",
      'import {',
      '  c,',
      "} from './c.ts';",
      "export { d } from './d.ts';",
      "export * from './e.ts';",
      "import './f.ts';",
      "const g = await import('./g.ts');",
      "type H = import('./h.ts').H;",
      "// import { x } from './commented.ts';",
      "/* import('./block.ts') */ import { z } from 'zod';",
      "const url = 'http://example.com'; import { i } from './i.ts';",
    ].join('\n');
    expect(relativeImports(source).map((i) => `${i.line}:${i.specifier}`)).toEqual(
      expect.arrayContaining([
        '1:./a.ts',
        '2:../b.ts',
        '5:./c.ts',
        '6:./d.ts',
        '7:./e.ts',
        '8:./f.ts',
        '9:./g.ts',
        '10:./h.ts',
        '13:./i.ts',
      ]),
    );
    expect(relativeImports(source)).toHaveLength(9);
  });

  it('puts every part of src/ in one layer', () => {
    const parts = new Set(sourceFiles(SRC).map((f) => partOf(relative(SRC, f))));
    expect([...parts].filter((p) => !layerOf.has(p)).sort(), 'parts with no layer: add them to LAYERS').toEqual([]);
    expect(
      LAYERS.flatMap((l) => l.parts).filter((p) => !parts.has(p)),
      'LAYERS names parts that do not exist',
    ).toEqual([]);
  });

  it('has imports that only go down the layers', () => {
    const edges = crossPartImports();
    const excepted = (e: Edge) => KNOWN_EXCEPTIONS.some((x) => x.from === e.from && x.to === e.to);
    const wrong = edges.flatMap((e) => {
      const why = wrongWay(e.from, e.to);
      return why === undefined || excepted(e) ? [] : [`src/${e.from}:${e.line} imports src/${e.to}: ${why}`];
    });
    expect(wrong, 'imports that go the wrong way (see docs/architecture.md)').toEqual([]);
  });

  it('needs every known exception still', () => {
    const edges = crossPartImports();
    const stale = KNOWN_EXCEPTIONS.filter(
      (x) => !edges.some((e) => e.from === x.from && e.to === x.to && wrongWay(e.from, e.to) !== undefined),
    );
    expect(
      stale.map((x) => `${x.from} -> ${x.to}`),
      'exceptions no longer needed: remove them from KNOWN_EXCEPTIONS',
    ).toEqual([]);
  });
});
