/**
 * Physical replication slots a node keeps for the members that stream from it
 * (the leader, or a replica that cascading replicas name in `replicatefrom`):
 * creates the missing ones and, like Patroni, drops inactive physical slots of
 * members that no longer stream from it, so a departed member or one that moved
 * to another upstream does not retain WAL here forever. Works on a primary and
 * on a standby alike (PostgreSQL allows physical slots on a standby).
 */
import type pg from 'pg';

/** Makes the physical slots on `pool`'s server exactly `wanted` plus `own` and any active slot. */
export async function syncPhysicalSlots(pool: pg.Pool, wanted: readonly string[], own: string): Promise<void> {
  if (wanted.length) {
    await pool.query(
      `SELECT pg_create_physical_replication_slot(s) FROM unnest($1::text[]) AS s WHERE s NOT IN (SELECT slot_name FROM pg_replication_slots)`,
      [wanted],
    );
  }
  await pool.query(
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
      WHERE slot_type = 'physical' AND NOT active AND slot_name <> ALL($1::text[]) AND slot_name <> $2`,
    [wanted, own],
  );
}
