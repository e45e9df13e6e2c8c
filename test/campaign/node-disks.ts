/**
 * Size-limited disks for the campaign's nodes: each node's directory (data directory, WAL, logs)
 * on its own tmpfs, so the `disk-full` fault can fill the primary's disk for real (a filler file
 * taking every free byte) and heal it (the file removed). Mounted when the cluster creates the
 * node's directory, unmounted (lazily, so a leftover process cannot block it) when it stops.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';

/** Default size of a node's disk: room for initdb, max_wal_size's worth of WAL and the logs. */
export const NODE_DISK_MIB = 1536;

const FILLER = 'campaign-disk-filler';

/** A PatroniCluster `prepareNodeDir` hook mounting a `mib`-MiB tmpfs at each node's directory. */
export function tmpfsNodeDirs(mib = NODE_DISK_MIB, log?: (line: string) => void): (name: string, nodeDir: string) => () => void {
  return (name, nodeDir) => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m,mode=0700`, `pgf-campaign-${name}`, nodeDir], { stdio: 'pipe' });
    log?.(`${name}: ${mib} MiB tmpfs at ${nodeDir}`);
    return () => execFileSync('umount', ['-l', nodeDir], { stdio: 'pipe' });
  };
}

/** Free bytes on the filesystem holding `dir`. */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** Takes every free byte of `nodeDir`'s disk with one file; returns its size. */
export function fillDisk(nodeDir: string): number {
  const bytes = freeBytes(nodeDir);
  if (bytes > 0) execFileSync('fallocate', ['-l', String(bytes), join(nodeDir, FILLER)], { stdio: 'pipe' });
  return bytes;
}

/** Removes the filler file (the disk has room again). */
export function freeDisk(nodeDir: string): void {
  rmSync(join(nodeDir, FILLER), { force: true });
}
