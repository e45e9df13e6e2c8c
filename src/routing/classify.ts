/** TEMPORARY stand-in (first keyword only) until the real classifier lands from the `classify` branch. */
export type StatementKind = 'read' | 'write' | 'transaction' | 'session';
export interface Analysis {
  kind: StatementKind;
  reason: string;
  transaction?: 'begin' | 'begin-read-only' | 'end' | 'savepoint' | 'other';
  pins?: 'advisory-lock' | 'temp-table' | 'listen' | 'set' | 'prepare' | 'cursor';
  hint?: 'primary' | 'standby';
  unknownFunctions: readonly string[];
  statements: number;
}
export interface ClassifierOptions {
  readOnlyFunctions?: readonly string[];
  writeFunctions?: readonly string[];
  cacheSize?: number;
}
export class Classifier {
  constructor(_options?: ClassifierOptions) {}
  analyze(sql: string): Analysis {
    const s = sql.trim().toLowerCase();
    const hint = /pgfailover:(primary|standby)/.exec(s)?.[1] as Analysis['hint'];
    const w = /^[a-z]+/.exec(s)?.[0] ?? '';
    if (w === 'begin' || w === 'start') return { kind: 'transaction', reason: w, transaction: /read only/.test(s) ? 'begin-read-only' : 'begin', unknownFunctions: [], statements: 1, hint };
    if (w === 'commit' || w === 'rollback' || w === 'end' || w === 'abort') return { kind: 'transaction', reason: w, transaction: 'end', unknownFunctions: [], statements: 1, hint };
    if (w === 'set' || w === 'listen' || w === 'prepare') return { kind: 'session', reason: w, pins: w === 'set' ? 'set' : w === 'listen' ? 'listen' : 'prepare', unknownFunctions: [], statements: 1, hint };
    if ((w === 'select' || w === 'show' || w === 'values') && !/nextval|for update|pg_advisory|into /.test(s)) return { kind: 'read', reason: w, unknownFunctions: [], statements: 1, hint };
    return { kind: 'write', reason: w, unknownFunctions: [], statements: 1, hint };
  }
  classify(sql: string): StatementKind {
    return this.analyze(sql).kind;
  }
  learnFunctions(_v: ReadonlyMap<string, 'i' | 's' | 'v'>): void {}
}
const shared = new Classifier();
export const classify = (sql: string) => shared.classify(sql);
export const analyze = (sql: string) => shared.analyze(sql);
