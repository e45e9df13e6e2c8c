/**
 * What @types/pg exports, read with the TypeScript compiler API (not a
 * hand-kept list): each name, whether it is a type and/or a value, and how
 * many type parameters have no default (so a reference can be written).
 */
import ts from 'typescript';
import { join } from 'node:path';

export interface ExportedName {
  name: string;
  isType: boolean;
  isValue: boolean;
  /** Type parameters without a default (a reference needs that many arguments). */
  requiredTypeArgs: number;
}

export const PG_TYPES_ENTRY = join(__dirname, '../../node_modules/@types/pg/index.d.ts');

export function typesPgExports(entry = PG_TYPES_ENTRY): ExportedName[] {
  const program = ts.createProgram([entry], { strict: true, skipLibCheck: true, types: [] });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry);
  if (!source) throw new Error(`cannot read ${entry}`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (!moduleSymbol) throw new Error(`${entry} is not a module`);
  return checker.getExportsOfModule(moduleSymbol).map((s) => {
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
    let requiredTypeArgs = 0;
    for (const d of target.declarations ?? []) {
      const params = (d as ts.InterfaceDeclaration | ts.TypeAliasDeclaration | ts.ClassDeclaration).typeParameters;
      if (params) requiredTypeArgs = Math.max(requiredTypeArgs, params.filter((p) => !p.default).length);
    }
    return {
      name: s.name,
      isType: Boolean(target.flags & ts.SymbolFlags.Type),
      isValue: Boolean(target.flags & ts.SymbolFlags.Value),
      requiredTypeArgs,
    };
  });
}

/** `N` or `N<any, …>`: a reference to an exported type through a namespace alias. */
export function typeRef(ns: string, e: ExportedName): string {
  return e.requiredTypeArgs ? `${ns}.${e.name}<${Array(e.requiredTypeArgs).fill('any').join(', ')}>` : `${ns}.${e.name}`;
}
