/**
 * What every example app can do, so one test drives them all the same way
 * against a real cluster. Each operation reports which server ran it
 * (`inet_server_port()`, `pg_is_in_recovery()`, `pg_backend_pid()`), so the
 * test checks routing from the server's side, not from our own bookkeeping.
 */
export interface Where {
  /** The PostgreSQL port that ran the statement. */
  port: number;
  /** True when that server was a standby (in recovery). */
  standby: boolean;
}

export interface ExampleApp {
  readonly name: string;
  /** Creates the example's table (idempotent). */
  setup(): Promise<void>;
  /** One INSERT of `id` outside a transaction. */
  write(id: number): Promise<Where>;
  /** One plain read (outside a transaction): the row count, and where it ran. */
  read(): Promise<Where & { count: number }>;
  /** BEGIN; a read; an INSERT of `id`; a read; COMMIT — every statement's session. */
  transaction(id: number): Promise<{ ports: number[]; pids: number[] }>;
  close(): Promise<void>;
}

/** pg returns int4 as number and bigint/count as string; normalise. */
export const num = (v: unknown): number => Number(v);
