// Local ESLint rules that keep DESIGN.md §8's process boundaries true by construction rather than by
// habit. The model is Signal Desktop's `file-suffix` rule: what a file imports decides which process it
// can run in, and its name must say so.
//
// - `file-suffix`: in `core/`, a file that imports anything Node-only (a `node:` built-in, a native or
//   server package, or another `*.node` file) must be named `*.node.ts`, and a `*.node.ts` file that
//   imports nothing Node-only must drop the suffix (it is platform-free, so its types are usable
//   everywhere). Everywhere, DOM-only packages and `*.dom` files are imported only from `*.dom.ts(x)`
//   files, and `*.dom` files import nothing Node-only.
// - `no-import-cycles`: no cycle of value imports between the repository's own modules (type-only
//   imports vanish at run time and are ignored).
import { builtinModules } from 'node:module';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** npm packages that load only in Node (native addons, servers, Node-only APIs). */
const NODE_ONLY_PACKAGES = [
  'better-sqlite3',
  'sharp',
  'onnxruntime-node',
  'sodium-native',
  'ws',
  'fastify',
  '@fastify/',
  'selfsigned',
  'vitest',
  'vite',
  '@vitejs/',
  '@playwright/test',
  'esbuild',
];
/** npm packages that need a DOM. */
const DOM_ONLY_PACKAGES = ['react-dom', 'recharts'];

const builtins = new Set(builtinModules);
/** Node's globals: a file that uses them needs Node even without an import. */
const NODE_GLOBALS = /\b(process|Buffer|NodeJS|__dirname|__filename|require)\b/;

function matchesPackage(specifier, list) {
  return list.some((name) =>
    name.endsWith('/') ? specifier.startsWith(name) : specifier === name || specifier.startsWith(`${name}/`),
  );
}

/** Which process a module specifier ties its importer to: 'node', 'dom', 'electron' or null (any). */
export function classifySpecifier(specifier) {
  if (specifier.startsWith('node:') || builtins.has(specifier.split('/')[0])) return 'node';
  if (specifier === 'electron') return 'electron';
  if (specifier.startsWith('.')) {
    if (/\.node(\.[cm]?js)?$/.test(specifier)) return 'node';
    if (/\.dom(\.[cm]?js)?$/.test(specifier)) return 'dom';
    if (/\.(main|preload)(\.[cm]?js)?$/.test(specifier)) return 'electron';
    return null;
  }
  if (matchesPackage(specifier, NODE_ONLY_PACKAGES)) return 'node';
  if (matchesPackage(specifier, DOM_ONLY_PACKAGES)) return 'dom';
  return null;
}

const isTypeOnly = (node) =>
  node.importKind === 'type' ||
  node.exportKind === 'type' ||
  (node.specifiers?.length > 0 && node.specifiers.every((s) => s.importKind === 'type'));

/** Every value import (static, re-export and dynamic with a literal) of a file, as AST nodes. */
function importVisitors(onImport) {
  const visit = (node) => {
    if (!node.source || typeof node.source.value !== 'string' || isTypeOnly(node)) return;
    onImport(node.source.value, node);
  };
  return {
    ImportDeclaration: visit,
    ExportNamedDeclaration: visit,
    ExportAllDeclaration: visit,
    ImportExpression(node) {
      if (node.source.type === 'Literal' && typeof node.source.value === 'string') {
        onImport(node.source.value, node);
      }
    },
  };
}

const fileSuffix = {
  meta: {
    type: 'problem',
    docs: { description: 'A file name says which process its imports tie it to (DESIGN §8).' },
    schema: [],
  },
  create(context) {
    const file = relative(context.cwd, context.filename).split('\\').join('/');
    const isTest = /\.(test|spec)\.tsx?$/.test(file);
    const isNodeFile = /\.node\.tsx?$/.test(file);
    const isDomFile = /\.dom\.tsx?$/.test(file);
    const inCore = file.startsWith('core/');
    const nodeImports = [];
    return {
      // Type-only imports of Node modules still tie a file to Node for the "drop the suffix" check:
      // a helper over a better-sqlite3 handle is Node code even if it only imports the handle's type.
      'ImportDeclaration[importKind="type"]'(node) {
        if (classifySpecifier(node.source.value) === 'node') nodeImports.push(node.source.value);
      },
      ...importVisitors((specifier, node) => {
        const kind = classifySpecifier(specifier);
        if (kind === 'node') nodeImports.push(specifier);
        if (kind === 'dom' && !isDomFile && !isTest) {
          context.report({
            node,
            message: `'${specifier}' needs a DOM: only *.dom.ts(x) files may import it.`,
          });
        }
        if (kind === 'node' && isDomFile) {
          context.report({ node, message: `'${specifier}' is Node-only: a *.dom file runs in a browser.` });
        }
        if (kind === 'node' && inCore && !isNodeFile && !isTest) {
          context.report({
            node,
            message: `'${specifier}' is Node-only: platform-free core/ code must not import it; name this file *.node.ts or move the Node part out.`,
          });
        }
      }),
      'Program:exit'(program) {
        const usesNodeGlobals = NODE_GLOBALS.test(context.sourceCode.getText(program));
        if (inCore && isNodeFile && nodeImports.length === 0 && !usesNodeGlobals) {
          context.report({
            node: program,
            message:
              'This *.node.ts file imports nothing Node-only: drop the .node suffix so its code and types are platform-free.',
          });
        }
      },
    };
  },
};

// The import graph of the repository's own sources, built once per lint run from the files on disk.
const SOURCE_ROOTS = ['core', 'src-main', 'src-renderer', 'server', 'bench', 'e2e', 'scripts'];
const VALUE_IMPORT =
  /(?:^|\n)\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
/** Cyclic components per repository root (one lint run may lint several roots, as the tests do). */
const cycleCache = new Map();

function listSources(root) {
  const out = [];
  const walk = (dir) => {
    let names;
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (name === 'node_modules' || name === 'dist') continue;
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(full);
    }
  };
  for (const top of SOURCE_ROOTS) walk(join(root, top));
  return out;
}

function resolveSource(from, specifier) {
  const base = resolve(dirname(from), specifier);
  const candidates = [
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.js$/, '.tsx'),
    `${base}.ts`,
    `${base}.tsx`,
  ];
  return candidates.find((c) => {
    try {
      return statSync(c).isFile();
    } catch {
      return false;
    }
  });
}

/** Tarjan's strongly connected components: every file that sits on an import cycle, by component. */
function cyclicComponents(root) {
  const files = listSources(root);
  const edges = new Map();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets = new Set();
    for (const match of text.matchAll(VALUE_IMPORT)) {
      const target = resolveSource(file, match[1] ?? match[2]);
      if (target) targets.add(target);
    }
    edges.set(file, targets);
  }
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const component = new Map();
  let counter = 0;
  const strongConnect = (v) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        strongConnect(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const members = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        members.push(w);
      } while (w !== v);
      const selfLoop = edges.get(v)?.has(v);
      if (members.length > 1 || selfLoop) for (const m of members) component.set(m, members);
    }
  };
  for (const file of files) if (!index.has(file)) strongConnect(file);
  return component;
}

const noImportCycles = {
  meta: {
    type: 'problem',
    docs: { description: 'No cycle of value imports between our own modules.' },
    schema: [],
  },
  create(context) {
    if (!cycleCache.has(context.cwd)) cycleCache.set(context.cwd, cyclicComponents(context.cwd));
    const self = resolve(context.filename);
    const members = cycleCache.get(context.cwd).get(self);
    if (!members) return {};
    return importVisitors((specifier, node) => {
      if (!specifier.startsWith('.')) return;
      const target = resolveSource(self, specifier);
      if (target && members.includes(target)) {
        const cycle = members.map((m) => relative(context.cwd, m)).join(' → ');
        context.report({
          node,
          message: `Import cycle: ${cycle}. Move the shared part into its own module.`,
        });
      }
    });
  },
};

export default { rules: { 'file-suffix': fileSuffix, 'no-import-cycles': noImportCycles } };
