#!/usr/bin/env node
// Checks Resource Graph queries with Microsoft's Kusto parser and binder
// (@kusto/language-service-next, pinned in package.json) against ARG's tables and columns.
//
//   node tests/collect/kql_check.js FILE.kql ...      # one query per file
//   node tests/collect/kql_check.js -e "QUERY" ...    # inline queries
//   node tests/collect/kql_check.js --schema=TABLES.json FILE.kql ...
//       # Log Analytics instead of ARG: the tables are those of the JSON file
//       # ({"Table": {"column": "string|long|int|real|bool|datetime|timespan|guid|dynamic"}}),
//       # and ARG's operator restrictions do not apply
//
// Prints "name:line:col: error CODE: message" per problem and exits 1 when any query has an
// error (parse, unknown table/column/function, type error, or an operator Resource Graph does
// not support), 0 when every query is clean, 2 on usage or internal failure.
'use strict';

const fs = require('fs');

// Columns shared by resources, resourcecontainers and authorizationresources in Resource Graph.
const ARG_COLUMNS = {
  id: 'string', name: 'string', type: 'string', tenantId: 'string', kind: 'string',
  location: 'string', resourceGroup: 'string', subscriptionId: 'string', managedBy: 'string',
  sku: 'dynamic', plan: 'dynamic', properties: 'dynamic', tags: 'dynamic', identity: 'dynamic',
  zones: 'dynamic', extendedLocation: 'dynamic',
};
const ARG_TABLES = ['resources', 'resourcecontainers', 'authorizationresources', 'securityresources',
  'networkresources'];

// Tabular operators Resource Graph documents as supported (query-language.md).
const ARG_OPERATORS = new Set(['CountOperator', 'DistinctOperator', 'ExtendOperator', 'JoinOperator',
  'TakeOperator', 'MvExpandOperator', 'SortOperator', 'ParseOperator', 'ProjectOperator',
  'ProjectAwayOperator', 'SummarizeOperator', 'TopOperator', 'UnionOperator', 'FilterOperator']);

function loadKusto() {
  require('@kusto/language-service-next/bridge.min.js');
  require('@kusto/language-service-next/Kusto.Language.Bridge.min.js');
  return global.Kusto.Language;
}

function globals(K, schema) {
  const S = K.Symbols;
  const table = (name, columns) => new S.TableSymbol.$ctor4(name, Object.entries(columns).map(
    ([col, ty]) => new S.ColumnSymbol(col, scalar(S, ty), null, null, null, null)));
  const db = schema
    ? new S.DatabaseSymbol.ctor('LogAnalytics', Object.entries(schema).map(([name, cols]) => table(name, cols)))
    : new S.DatabaseSymbol.ctor('ResourceGraph', ARG_TABLES.map((name) => table(name, ARG_COLUMNS)));
  return K.GlobalState.Default.WithDatabase(db);
}

function scalar(S, ty) {
  const symbol = S.ScalarTypes.GetSymbol(ty === 'boolean' ? 'bool' : ty);
  if (!symbol) throw new Error(`unknown column type '${ty}'`);
  return symbol;
}

function lineCol(text, offset) {
  const before = text.slice(0, offset).split('\n');
  return `${before.length}:${before[before.length - 1].length + 1}`;
}

function check(K, g, text, argRules) {
  const code = K.KustoCode.ParseAndAnalyze(text, g);
  const out = global.Bridge.toArray(code.GetDiagnostics())
    .filter((d) => d.Severity === 'Error')
    .map((d) => ({ code: d.Code, message: d.Message, start: d.Start }));
  const kinds = K.Syntax.SyntaxKind;
  const kindName = {};
  for (const k of Object.keys(kinds)) if (typeof kinds[k] === 'number') kindName[kinds[k]] = k;
  if (argRules) K.Syntax.SyntaxElement.WalkNodes(code.Syntax, (n) => {
    const kind = kindName[n.Kind] || '';
    if (/Operator$/.test(kind) && kind !== 'BadQueryOperator' && !ARG_OPERATORS.has(kind)) {
      out.push({ code: 'ARG001', start: n.TextStart,
        message: `operator '${n.GetFirstToken().Text}' is not supported by Resource Graph` });
    }
  });
  if (!text.trim()) out.push({ code: 'EMPTY', message: 'query is empty', start: 0 });
  return out;
}

function main(argv) {
  const inputs = [];
  let inline = 0;
  let schema = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '-e') inputs.push({ name: `<query ${++inline}>`, text: argv[++i] ?? '' });
    else if (argv[i].startsWith('--schema=')) schema = JSON.parse(fs.readFileSync(argv[i].slice(9), 'utf8'));
    else inputs.push({ name: argv[i], text: fs.readFileSync(argv[i], 'utf8') });
  }
  if (!inputs.length) { process.stderr.write('usage: kql_check.js [--schema=TABLES.json] FILE.kql ... | -e QUERY\n'); return 2; }
  const K = loadKusto();
  const g = globals(K, schema);
  let failed = 0;
  for (const { name, text } of inputs) {
    const problems = check(K, g, text, !schema);
    if (problems.length) failed++;
    for (const p of problems) console.log(`${name}:${lineCol(text, p.start)}: error ${p.code}: ${p.message}`);
    if (!problems.length) console.log(`${name}: OK`);
  }
  return failed ? 1 : 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  // never let node print the engine's 4 MB minified source line
  process.stderr.write(`kql_check: internal error: ${e && e.message ? e.message : e}\n`);
  process.exitCode = 2;
}
