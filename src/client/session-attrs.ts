/**
 * libpq's `target_session_attrs` check, done on a freshly connected pg.Client:
 * from the `in_hot_standby` / `default_transaction_read_only` ParameterStatus
 * values the server reports at startup (PostgreSQL 14+), and with a query
 * otherwise — the same order of evidence libpq uses.
 */
import type pg from 'pg';

export type TargetSessionAttrs = 'any' | 'read-write' | 'read-only' | 'primary' | 'standby' | 'prefer-standby';

export const TARGET_SESSION_ATTRS: readonly TargetSessionAttrs[] = ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'];

/** What a connected server says about itself. */
export interface ServerState {
  inHotStandby: boolean | undefined;
  defaultReadOnly: boolean | undefined;
}

/** Captures ParameterStatus messages of a pg.Client before it connects. */
export function captureParameterStatus(client: pg.Client): Map<string, string> {
  const params = new Map<string, string>();
  const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
  connection.on('parameterStatus', (msg: { parameterName: string; parameterValue: string }) => {
    params.set(msg.parameterName, msg.parameterValue);
  });
  return params;
}

export function stateFromParameters(params: Map<string, string>): ServerState {
  const flag = (name: string) => (params.has(name) ? params.get(name) === 'on' : undefined);
  return { inHotStandby: flag('in_hot_standby'), defaultReadOnly: flag('default_transaction_read_only') };
}

/**
 * Does this session satisfy `attrs`? `prefer-standby` is checked as `standby`
 * (the caller makes a second pass with `any`, like libpq).
 */
export async function sessionMatches(client: pg.Client, params: Map<string, string>, attrs: TargetSessionAttrs): Promise<boolean> {
  const state = stateFromParameters(params);
  switch (attrs) {
    case 'any':
      return true;
    case 'read-write':
    case 'read-only': {
      let readOnly: boolean;
      if (state.inHotStandby === true || state.defaultReadOnly === true) readOnly = true;
      else if (state.inHotStandby === false && state.defaultReadOnly === false) readOnly = false;
      else readOnly = (await client.query<{ v: string }>('SHOW transaction_read_only')).rows[0]?.['transaction_read_only' as 'v'] === 'on';
      return attrs === 'read-only' ? readOnly : !readOnly;
    }
    case 'primary':
    case 'standby':
    case 'prefer-standby': {
      const standby =
        state.inHotStandby ?? (await client.query<{ r: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS r')).rows[0]?.r === true;
      return attrs === 'primary' ? !standby : standby;
    }
  }
}
