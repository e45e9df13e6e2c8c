import { describe, expect, it } from 'vitest';
import { libpqKeywords, parseConninfo } from '../../src/connection';
import { isConnectionStringError } from '../../src/errors';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (isConnectionStringError(e)) return e.code;
    throw e;
  }
  return undefined;
}

describe('libpqKeywords: URI form', () => {
  it('reads user, password, hosts, ports and database', () => {
    expect(libpqKeywords('postgresql://app:pw@h1:5433,h2:5434/shop')).toEqual({
      user: 'app',
      password: 'pw',
      dbname: 'shop',
      host: 'h1,h2',
      port: '5433,5434',
    });
  });

  it('keeps libpq\'s port list shape when only some hosts have ports', () => {
    expect(libpqKeywords('postgresql://h1:1,h2/db')).toEqual({ dbname: 'db', host: 'h1,h2', port: '1,' });
    expect(libpqKeywords('postgresql://h1,h2:2')).toEqual({ host: 'h1,h2', port: ',2' });
  });

  it('accepts both prefixes, and only those', () => {
    expect(libpqKeywords('postgres://h')).toEqual({ host: 'h' });
    expect(codeOf(() => libpqKeywords('postgre://h'))).toBe('CONNINFO_SYNTAX');
    expect(codeOf(() => libpqKeywords('POSTGRESQL://h'))).toBe('CONNINFO_SYNTAX');
  });

  it('strips IPv6 brackets and keeps ports', () => {
    expect(libpqKeywords('postgresql://[::1]:5433,[fe80::1%25eth0]/db')).toEqual({
      dbname: 'db',
      host: '::1,fe80::1%eth0',
      port: '5433,',
    });
  });

  it('rejects broken IPv6 literals', () => {
    for (const s of ['postgresql://[::1', 'postgresql://[]', 'postgresql://[::1]x']) {
      expect(codeOf(() => libpqKeywords(s))).toBe('CONNINFO_SYNTAX');
    }
  });

  it('percent-decodes every part, including socket directories', () => {
    expect(libpqKeywords('postgresql://u%40x:p%3Aw@%2Fvar%2Frun%2Fpostgresql/caf%C3%A9')).toEqual({
      user: 'u@x',
      password: 'p:w',
      host: '/var/run/postgresql',
      dbname: 'café',
    });
    expect(libpqKeywords('postgresql:///db?host=/tmp&port=5433')).toEqual({ dbname: 'db', host: '/tmp', port: '5433' });
  });

  it("rejects bad percent escapes and %00, like libpq", () => {
    for (const s of ['postgresql://%zz', 'postgresql://%1', 'postgresql://%', 'postgresql://a%00b', 'postgres://h?dbname=%XXfoo']) {
      expect(codeOf(() => libpqKeywords(s))).toBe('CONNINFO_SYNTAX');
    }
  });

  it('rejects percent-decoded bytes that are not UTF-8 (libpq would pass raw bytes on)', () => {
    expect(codeOf(() => libpqKeywords('postgresql://h/%FF'))).toBe('CONNINFO_SYNTAX');
  });

  it('maps ssl=true to sslmode=require and requiressl to sslmode', () => {
    expect(libpqKeywords('postgresql://h?ssl=true')).toEqual({ host: 'h', sslmode: 'require' });
    expect(codeOf(() => libpqKeywords('postgresql://h?ssl=false'))).toBe('CONNINFO_UNKNOWN_KEYWORD');
    expect(libpqKeywords('postgresql://h?requiressl=1')).toEqual({ host: 'h', sslmode: 'require' });
    expect(libpqKeywords('requiressl=0')).toEqual({ sslmode: 'prefer' });
  });

  it('lets query parameters override the authority, last one winning', () => {
    expect(libpqKeywords('postgresql://u@h:1/db?user=v&port=2&user=w')).toEqual({ user: 'w', dbname: 'db', host: 'h', port: '2' });
  });

  it('rejects unknown and malformed query parameters', () => {
    expect(codeOf(() => libpqKeywords('postgresql://h?uzer=x'))).toBe('CONNINFO_UNKNOWN_KEYWORD');
    expect(codeOf(() => libpqKeywords('postgresql://h?zzz'))).toBe('CONNINFO_SYNTAX');
    expect(codeOf(() => libpqKeywords('postgresql://h?k=v=w'))).toBe('CONNINFO_SYNTAX');
  });

  it('knows the keywords libpq 16 and 17 added', () => {
    expect(
      libpqKeywords(
        'postgresql://h?load_balance_hosts=random&require_auth=scram-sha-256&sslcertmode=require&gssdelegation=1&sslnegotiation=direct',
      ),
    ).toEqual({
      host: 'h',
      sslnegotiation: 'direct',
      sslcertmode: 'require',
      require_auth: 'scram-sha-256',
      gssdelegation: '1',
      load_balance_hosts: 'random',
    });
  });
});

describe('libpqKeywords: keyword/value form', () => {
  it('parses pairs with any whitespace around "="', () => {
    expect(libpqKeywords(' host = a\tport=1\n dbname =x ')).toEqual({ dbname: 'x', host: 'a', port: '1' });
  });

  it('handles quotes and backslash escapes', () => {
    expect(libpqKeywords("password='a b\\'c' options='-c geqo=off' application_name=x\\ y")).toEqual({
      password: "a b'c",
      options: '-c geqo=off',
      application_name: 'x y',
    });
  });

  it('lets the last repeated keyword win and keeps empty values', () => {
    expect(libpqKeywords("host=a host=b dbname=''")).toEqual({ dbname: '', host: 'b' });
  });

  it("reproduces libpq's quirk: an empty unquoted value swallows the next word", () => {
    expect(libpqKeywords('host= port=5')).toEqual({ host: 'port=5' });
  });

  it('rejects unknown keywords, missing "=", and unterminated quotes', () => {
    expect(codeOf(() => libpqKeywords('hots=a'))).toBe('CONNINFO_UNKNOWN_KEYWORD');
    expect(codeOf(() => libpqKeywords('HOST=a'))).toBe('CONNINFO_UNKNOWN_KEYWORD');
    expect(codeOf(() => libpqKeywords('host'))).toBe('CONNINFO_SYNTAX');
    expect(codeOf(() => libpqKeywords("host='a"))).toBe('CONNINFO_SYNTAX');
  });

  it('accepts the empty string', () => {
    expect(libpqKeywords('')).toEqual({});
  });

  it('rejects a NUL character (libpq would silently drop the rest)', () => {
    expect(codeOf(() => libpqKeywords('host=a\0 host=b'))).toBe('CONNINFO_SYNTAX');
  });
});

describe('pgfailover.* extension parameters', () => {
  it('are stripped by libpqKeywords and returned by parseConninfo in both forms', () => {
    const kv = "host=a pgfailover.topology=etcd pgfailover.etcd='http://127.0.0.1:2379' pgfailover.scope=main";
    expect(libpqKeywords(kv)).toEqual({ host: 'a' });
    expect(parseConninfo(kv).extensions).toEqual({ topology: 'etcd', etcd: 'http://127.0.0.1:2379', scope: 'main' });
    const uri = 'postgresql://a/db?pgfailover.topology=etcd&pgfailover.etcd=http%3A%2F%2F127.0.0.1%3A2379&pgfailover.scope=main';
    expect(libpqKeywords(uri)).toEqual({ dbname: 'db', host: 'a' });
    expect(parseConninfo(uri).extensions).toEqual({ topology: 'etcd', etcd: 'http://127.0.0.1:2379', scope: 'main' });
  });

  it('need a name after the prefix', () => {
    expect(codeOf(() => libpqKeywords('pgfailover.=x'))).toBe('CONNINFO_UNKNOWN_KEYWORD');
  });
});
