import { describe, expect, it } from 'vitest';
import { describeStandbySource, effectiveStandbyCluster, standbyClusterOf, standbyLeaderSettings } from '../../src/manager/standby-cluster';

describe('standby_cluster settings (pure)', () => {
  it("is a standby cluster only with a host or a restore_command (Patroni's rule)", () => {
    expect(standbyClusterOf(null)).toBeUndefined();
    expect(standbyClusterOf({})).toBeUndefined();
    expect(standbyClusterOf({ port: 5432 })).toBeUndefined();
    expect(standbyClusterOf({ host: 'remote', port: '5433', primary_slot_name: 'pm_1' })).toEqual({ host: 'remote', port: 5433, primarySlotName: 'pm_1' });
    expect(standbyClusterOf({ restore_command: 'cp /a/%f %p', host: null, port: null, primary_slot_name: null })).toEqual({ restoreCommand: 'cp /a/%f %p' });
  });

  it("the config key's value wins; the node's bootstrap.dcs only while the cluster has no config key", () => {
    const boot = { standby_cluster: { host: 'remote' } };
    expect(effectiveStandbyCluster({ config: {} }, boot)).toEqual({ host: 'remote' });
    expect(effectiveStandbyCluster({ config: { ttl: 30 } }, boot)).toBeUndefined();
    expect(effectiveStandbyCluster({ config: { standby_cluster: { restore_command: 'x' } } }, {})).toEqual({ restoreCommand: 'x' });
  });

  it('asks for primary_conninfo to the remote (quoted, with the slot) or for archive recovery alone', () => {
    const s = standbyLeaderSettings({ host: 'remote', port: 5433, primarySlotName: 'pm_1', restoreCommand: 'cp %f' }, { username: 'rep', password: "it's" }, 'n1');
    expect(s).toEqual({
      primary_conninfo: "host=remote port=5433 user=rep password='it\\'s' application_name=n1",
      primary_slot_name: 'pm_1',
      restore_command: 'cp %f',
      recovery_target_timeline: 'latest',
    });
    expect(standbyLeaderSettings({ restoreCommand: 'cp %f' }, { username: 'rep' }, 'n1')).toEqual({ primary_conninfo: '', restore_command: 'cp %f', recovery_target_timeline: 'latest' });
    expect(describeStandbySource({ host: 'remote', primarySlotName: 'pm_1' })).toBe('remote:5432 (slot pm_1)');
  });
});
