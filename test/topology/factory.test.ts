/** TopologyConfig → source: the pool's `topology` option builds the right class, bad configs are typed errors. */
import { describe, test, expect } from 'vitest';
import { createTopologySource } from '../../src/pool/topology-factory';
import { EtcdTopology } from '../../src/topology/etcd';
import { PatroniRestTopology } from '../../src/topology/patroni-rest';
import { FailoverError } from '../../src/errors';
import type { TopologyConfig } from '../../src/pool/options';

describe('createTopologySource', () => {
  test('etcd and patroni-rest configs build their sources (nothing connects before start())', async () => {
    const e = createTopologySource({ source: 'etcd', hosts: ['http://127.0.0.1:1'], scope: 'batman', namespace: '/pg' });
    expect(e).toBeInstanceOf(EtcdTopology);
    expect(e.name).toBe('etcd');
    expect((e as EtcdTopology).prefix).toBe('/pg/batman/');
    expect((createTopologySource({ source: 'etcd', hosts: ['http://127.0.0.1:1'], scope: 'b' }) as EtcdTopology).prefix).toBe('/service/b/');
    const r = createTopologySource({ source: 'patroni-rest', urls: ['http://127.0.0.1:1/patroni'], intervalMillis: 10, timeoutMillis: 10 });
    expect(r).toBeInstanceOf(PatroniRestTopology);
    expect(r.name).toBe('patroni-rest');
    expect(r.current()).toBeUndefined();
    await Promise.all([e.close(), r.close()]);
  });

  test('probe and unknown sources, and unusable settings, are INVALID_OPTION', () => {
    const bad: unknown[] = [
      { source: 'probe' },
      { source: 'consul' },
      { source: 'etcd', hosts: [], scope: 'x' },
      { source: 'etcd', hosts: ['http://127.0.0.1:1'], scope: 'a/b' },
      { source: 'patroni-rest', urls: ['file:///etc/passwd'] },
      { source: 'patroni-rest', urls: ['http://127.0.0.1:1'], intervalMillis: 0 },
    ];
    for (const config of bad) {
      let err: unknown;
      try {
        createTopologySource(config as TopologyConfig);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(config)).toBeInstanceOf(FailoverError);
      expect((err as FailoverError).code).toBe('INVALID_OPTION');
    }
  });

  test('a REST URL with a password never shows it in errors', () => {
    let err: unknown;
    try {
      createTopologySource({ source: 'patroni-rest', urls: ['ftp://admin:s3cret@127.0.0.1:1'] });
    } catch (e) {
      err = e;
    }
    expect((err as FailoverError).code).toBe('INVALID_OPTION');
    expect((err as Error).message).not.toContain('s3cret');
  });
});
