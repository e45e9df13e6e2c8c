/**
 * A routing oracle built on the real PostgreSQL parser (libpg-query): walks
 * the parse tree and applies the routing rules with the same builtin function
 * lists as the classifier. Test-only (call `loadModule()` from libpg-query first).
 */
import { parseSync } from 'libpg-query';
import type { StatementKind } from '../../src/routing/classify';
import { BUILTIN_READ_SAFE, BUILTIN_WRITERS } from '../../src/routing/builtin-functions';

type Node = Record<string, unknown>;
const RANK: Record<StatementKind, number> = { read: 0, transaction: 1, session: 2, write: 3 };
const SESSION_STMTS = new Set(['VariableSetStmt', 'DiscardStmt', 'PrepareStmt', 'ExecuteStmt', 'DeallocateStmt', 'ListenStmt', 'UnlistenStmt', 'DeclareCursorStmt', 'FetchStmt', 'ClosePortalStmt', 'LoadStmt']);
const DML = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

function queryWrites(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(queryWrites);
  if (!node || typeof node !== 'object') return false;
  for (const [key, value] of Object.entries(node as Node)) {
    if (DML.has(key) || key === 'intoClause' || (key === 'lockingClause' && Array.isArray(value) && value.length)) return true;
    if (key === 'FuncCall') {
      const names = ((value as Node).funcname as { String: { sval: string } }[]).map((n) => n.String.sval);
      const name = names[names.length - 1];
      const schema = names.length > 1 ? names[names.length - 2] : undefined;
      const builtin = schema === undefined || schema === 'pg_catalog' || schema === 'information_schema';
      if (!builtin || BUILTIN_WRITERS.has(name) || !BUILTIN_READ_SAFE.has(name)) return true;
    }
    if (queryWrites(value)) return true;
  }
  return false;
}

function oracleStatement(stmt: Node): StatementKind {
  const [type, body] = Object.entries(stmt)[0] as [string, Node];
  if (type === 'SelectStmt') return queryWrites(body) ? 'write' : 'read';
  if (type === 'VariableShowStmt') return 'read';
  if (type === 'TransactionStmt') return 'transaction';
  if (SESSION_STMTS.has(type)) return 'session';
  if (type === 'ExplainStmt') {
    const analyze = ((body.options as { DefElem: { defname: string; arg?: Node } }[] | undefined) ?? []).some(
      (o) => o.DefElem.defname === 'analyze' && !/^(false|off|0)$/.test(JSON.stringify(o.DefElem.arg ?? {}).match(/"sval":"(\w+)"/)?.[1] ?? ''),
    );
    return !analyze && oracleStatement(body.query as Node) === 'read' ? 'read' : 'write';
  }
  return 'write';
}

/** The parser's verdict: a kind, 'error' when it rejects the text, 'empty' when there is no statement. */
export function oracle(sql: string): StatementKind | 'error' | 'empty' {
  let stmts: { stmt: Node }[];
  try {
    stmts = (parseSync(sql) as unknown as { stmts?: { stmt: Node }[] }).stmts ?? [];
  } catch {
    return 'error';
  }
  if (!stmts.length) return 'empty';
  return stmts.map((s) => oracleStatement(s.stmt)).reduce((a, b) => (RANK[b] > RANK[a] ? b : a));
}

