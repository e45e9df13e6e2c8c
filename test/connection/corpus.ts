/**
 * Connection strings for the parser tests: PostgreSQL's own URI regression
 * inputs, our hand-written edge cases, combinations of URI parts, and
 * deterministic (seeded) mutations of all of those.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

export function regressCases(): string[] {
  return readFileSync(join(__dirname, 'data', 'postgresql-uri-regress.in'), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}

const KEYWORD_VALUE_CASES: string[] = [
  '',
  ' ',
  '\t\n\r\v\f',
  'host=a',
  'host = a',
  'host= a',
  'host =a',
  'host=a port=5432',
  'host=a\tport=5432',
  'host=a\nport=5432\n',
  '  host=a  port=5432  ',
  "host='a b'",
  "host='a\\'b'",
  "host='a\\\\b'",
  "host='a\\b'",
  'host=a\\ b',
  'host=a\\',
  "host='a\\",
  "host='unterminated",
  "host='",
  "host=''",
  "host='' port=1",
  "host='a'port=1",
  "host='a'  port=1",
  "host=a'b",
  "host=a'b c'",
  'host="a b"',
  'host',
  'host ',
  'host =',
  'host=',
  'host= ',
  'host= port=1',
  'host=\tport=1',
  '=x',
  '=',
  '==',
  'host==a',
  'host=a=b',
  'x=1',
  'HOST=a',
  'Host=a',
  'host=a host=b',
  'host=a host=',
  "host=a host=''",
  'port=1,2,3',
  'host=a,b,c port=1,2,3',
  'host=a,b port=1',
  'host=a,,b',
  'host=,',
  "password='p w' user=u",
  'password=secret',
  'password=',
  'requiressl=1',
  'requiressl=0',
  'requiressl=',
  'requiressl=10',
  'requiressl=yes',
  'requiressl=1 sslmode=disable',
  'sslmode=disable requiressl=1',
  'ssl=true',
  'dbname=postgresql://x',
  'dbname=postgres://u@h/d',
  "options='-c geqo=off -c search_path=a,b'",
  "options='-c\\ geqo=off'",
  "application_name='it\\'s'",
  "application_name='it''s'",
  'application_name=é€😀',
  "application_name='é € 😀'",
  'host=/var/run/postgresql',
  'host=/tmp,/var/run/postgresql port=5432,5433',
  'host=@abstract',
  'hostaddr=127.0.0.1',
  'hostaddr=::1 host=localhost',
  'host=a,b hostaddr=1.1.1.1,2.2.2.2',
  'sslmode=verify-full sslrootcert=system',
  'target_session_attrs=read-write',
  'target_session_attrs=prefer-standby host=a,b,c',
  'connect_timeout=10',
  'connect_timeout=-1',
  'keepalives=0 keepalives_idle=1 keepalives_interval=2 keepalives_count=3 tcp_user_timeout=4',
  'service=mydb',
  'passfile=/tmp/pgpass',
  'channel_binding=require',
  'client_encoding=UTF8',
  'fallback_application_name=x',
  'sslcert=/c sslkey=/k sslpassword=pp sslcrl=/crl sslcrldir=/crldir sslsni=0',
  'requirepeer=postgres',
  'ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.3',
  'gssencmode=disable krbsrvname=pg gsslib=gssapi',
  'replication=database',
  'load_balance_hosts=random',
  'require_auth=scram-sha-256',
  'sslcertmode=require',
  'gssdelegation=1',
  'sslnegotiation=direct',
  'tty=x',
  'authtype=x',
  'host=a # comment',
  '# host=a',
  'host=a;port=1',
  'host=a,port=1',
  'host=a&port=1',
  'postgresql:',
  'postgresql:/',
  'postgresql:/host',
  'POSTGRESQL://host',
  'Postgres://host',
  ' postgresql://host',
  'postgre://',
  'postgresqlx://host',
  'host=a\u00a0port=1',
  'host=a\u3000port=1',
  'host=\u00e9',
  'host=a\\\nport=1',
  "host='a\nb'",
];

const URI_CASES: string[] = [
  'postgresql://h1:1,h2:2/db',
  'postgresql://h1,h2,h3/db',
  'postgresql://h1:1,h2/db',
  'postgresql://h1,h2:2/db',
  'postgresql://h1,,h3',
  'postgresql://,',
  'postgresql://,,',
  'postgresql://:1,:2',
  'postgresql://[::1]:1,[::2]:2/db',
  'postgresql://[::1],h2',
  'postgresql://[fe80::1%25eth0]:5432/db',
  'postgresql://[fe80::1%eth0]/db',
  'postgresql://[::1]:',
  'postgresql://[::1],',
  'postgresql://[::1]?',
  'postgresql://[::1]/',
  'postgresql://[::1]@',
  'postgresql://[[::1]]',
  'postgresql://[::1]]',
  'postgresql://[a/b]/db',
  'postgresql://[a?b]',
  'postgresql://u@[::1]:5432/db',
  'postgresql://u:p@[::1]/db',
  'postgresql://u:p:q@h/db',
  'postgresql://u:p@@h/db',
  'postgresql://u@h@i/db',
  'postgresql://u:@h',
  'postgresql://:p@h',
  'postgresql://:@h',
  'postgresql://@',
  'postgresql://@/',
  'postgresql://u%40x:p%3A%40%2F@h/d',
  'postgresql://u%zz@h',
  'postgresql://u:p%zz@h',
  'postgresql://u:p%00@h',
  'postgresql://u:p%@h',
  'postgresql://h/d%zz',
  'postgresql://h:5%34',
  'postgresql://h:54x',
  'postgresql://h:',
  'postgresql://h:/db',
  'postgresql://h:?x=1',
  'postgresql://h:1:2',
  'postgresql://h:[1]',
  'postgresql://h/db/more',
  'postgresql://h/db?',
  'postgresql://h/db?&',
  'postgresql://h/db?a=1&',
  'postgresql://h/db?&a=1',
  'postgresql://h/db?a=1&&b=2',
  'postgresql://h/db?=',
  'postgresql://h/db?=x',
  'postgresql://h/db?x=',
  'postgresql://h/db?user=',
  'postgresql://h/db?user=a&user=b',
  'postgresql://u@h/db?user=other',
  'postgresql://h/db?host=other',
  'postgresql://h:1/db?port=2',
  'postgresql://h/db?dbname=other',
  'postgresql://h/db?ssl=true',
  'postgresql://h/db?ssl=True',
  'postgresql://h/db?ssl=false',
  'postgresql://h/db?ssl=1',
  'postgresql://h/db?ssl=true&sslmode=disable',
  'postgresql://h/db?sslmode=disable&ssl=true',
  'postgresql://h/db?s%73l=true',
  'postgresql://h/db?ssl=tru%65',
  'postgresql://h/db?requiressl=1',
  'postgresql://h/db?requiressl=0',
  'postgresql://h/db?requiressl=%31',
  'postgresql://h/db?sslmode=require&sslrootcert=%2Fetc%2Fca.pem',
  'postgresql://h/db?application_name=my%20app',
  'postgresql://h/db?application_name=my+app',
  'postgresql://h/db?options=-c%20search_path%3Dfoo',
  'postgresql://h/db?options=-c search_path=foo',
  'postgresql://h/db?target_session_attrs=read-write',
  'postgresql://h1,h2/db?target_session_attrs=primary&load_balance_hosts=random',
  'postgresql://h/db?connect_timeout=5',
  'postgresql://h/db?password=secret',
  'postgresql://h/db?password=se%zzcret',
  'postgresql://h/db?pass%77ord=x',
  'postgresql://h/db?k=v=w',
  'postgresql://h/db?%=x',
  'postgresql://h/db?a%00=x',
  'postgresql://h/db?tty=x',
  'postgresql://h/db#frag',
  'postgresql://h/db?host=%2Ftmp#frag',
  'postgresql://%2Fvar%2Frun%2Fpostgresql/db',
  'postgresql://%2Fvar%2Frun%2Fpostgresql:5433/db',
  'postgresql://%2Ftmp,%2Fvar%2Frun%2Fpostgresql/db',
  'postgresql://h%2Cx/db',
  'postgresql://h%3A1/db',
  'postgresql://%40abstract/db',
  'postgresql://caf%C3%A9/db',
  'postgresql://h/caf%C3%A9',
  'postgresql://h/%FF',
  'postgresql://h/%C3',
  'postgresql://h/%C3%28',
  'postgresql://%ED%A0%80/db',
  'postgresql://h/d?application_name=%F0%9F%98%80',
  'postgresql://h/d?application_name=😀',
  'postgresql://é/ü?application_name=€',
  'postgresql://h /db',
  'postgresql:// h/db',
  'postgresql://h/d b',
  'postgresql://h\t/db',
  'postgresql://h\n/db',
  'postgresql://h/db\n',
  'postgresql://h/db?x=1\n',
  'postgres://h?host=a,b&port=1,2',
  'postgres://?host=a&hostaddr=1.2.3.4,5.6.7.8',
  'postgres://h?service=svc',
  'postgres://h?passfile=%2Ftmp%2Fpgpass',
  'postgres://h?keepalives=0&keepalives_idle=30',
  'postgres://h?replication=true',
  'postgres://h?gssencmode=disable',
  'postgres://h?channel_binding=require',
  'postgres://h?require_auth=scram-sha-256',
  'postgres://h?sslcertmode=disable',
  'postgres://h?gssdelegation=0',
  'postgres://h?sslnegotiation=postgres',
  'postgres://h?load_balance_hosts=disable',
  'postgres://h?load%5Fbalance_hosts=disable',
  'postgres://h?sslmode=verify-full&sslrootcert=system',
  'postgres://h/?',
  'postgres://h//',
  'postgres:////',
  'postgres://?',
  'postgres://??',
  'postgres://?&',
  'postgres://?=',
  'postgres://h?a=1?b=2',
  'postgres://h/db?user=a@b',
  'postgres://h?user=a@b/c',
  'postgres://h:1,[::1]:2,h3:3/db',
  'postgres://a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8/db',
  'postgres://u:p@h1:1,h2:2/db?target_session_attrs=standby',
];

/** URI parts combined systematically (a deterministic sample of the product). */
function uriCombinations(): string[] {
  const schemes = ['postgresql://', 'postgres://'];
  const userinfos = ['', 'u@', 'u:p@', ':p@', 'u:@', '@', 'u%40x:p%3Aw@', 'u:p:q@', 'u%zz@', 'u:p%zz@'];
  const netlocs = [
    '',
    'h',
    'h:5432',
    'h:',
    ':5432',
    '[::1]',
    '[::1]:5433',
    'h1,h2',
    'h1:1,h2:2',
    'h1:1,h2',
    'h1,h2:2',
    '[::1]:1,[::2]:2',
    '%2Fvar%2Frun%2Fpostgresql',
    '%2Ftmp:5433',
    'h1,,h3',
    ',',
    'a.b.c:65536',
    'h:abc',
    '[::1',
    '[]',
    '[::1]x',
    '%zz',
  ];
  const paths = ['', '/', '/db', '/d%20b', '/db/extra', '/%zz', '/%00'];
  const queries = [
    '',
    '?',
    '?sslmode=require',
    '?ssl=true',
    '?ssl=false',
    '?host=/tmp&port=5433',
    '?a',
    '?user=x&user=y',
    '?target_session_attrs=read-write',
    '?application_name=my%20app',
    '?options=-c%20search_path%3Dfoo',
    '?requiressl=1',
    '?=',
    '?&',
    '?k=v=w',
    '?dbname=%XX',
    '?password=a%00',
    '?zzz=1',
  ];
  const out: string[] = [];
  const rand = prng(20240601);
  for (const netloc of netlocs) {
    for (const query of queries) {
      out.push(pick(rand, schemes) + pick(rand, userinfos) + netloc + pick(rand, paths) + query);
    }
  }
  for (const userinfo of userinfos) {
    for (const path of paths) {
      out.push(pick(rand, schemes) + userinfo + pick(rand, netlocs) + path + pick(rand, queries));
    }
  }
  return out;
}

/** Every keyword × a few values × quoting styles, in keyword/value form. */
function keywordValueCombinations(keywords: readonly string[]): string[] {
  const values = ['', 'x', 'a b', "it's", 'back\\slash', 'é', '1', '-1', 'a,b'];
  const out: string[] = [];
  const rand = prng(77);
  for (const k of keywords) {
    for (const v of values) {
      const style = Math.floor(rand() * 3);
      if (style === 0) out.push(`${k}='${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`);
      else if (style === 1) out.push(`${k}=${v.replace(/\\/g, '\\\\').replace(/ /g, '\\ ').replace(/'/g, "\\'")}`);
      else out.push(`  ${k} =  ${v}  `);
    }
    out.push(`postgresql://h/db?${k}=${encodeURIComponent(pick(rand, values))}`);
  }
  return out;
}

const ALPHABET = [
  ...'=\'\\ ,:/@?&%[]#\t\n"',
  ...'0123456789abcdefABCDEFxyz',
  '%2',
  '%2F',
  '%00',
  '%zz',
  'é',
  '€',
  '😀',
  'host=',
  'port=',
  'postgresql://',
  'postgres://',
  '?ssl=true',
  'requiressl=1',
  'user=',
  'password=',
  '[::1]',
];

/** One random edit of `s`. */
export function mutate(rand: () => number, s: string): string {
  const at = Math.floor(rand() * (s.length + 1));
  switch (Math.floor(rand() * 6)) {
    case 0:
      return s.slice(0, at) + pick(rand, ALPHABET) + s.slice(at);
    case 1:
      return s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 3));
    case 2: {
      const end = at + Math.floor(rand() * 8);
      return s.slice(0, end) + s.slice(at, end) + s.slice(end);
    }
    case 3:
      return s.slice(0, at) + pick(rand, ALPHABET) + s.slice(at + 1);
    case 4:
      return s.slice(0, at);
    default:
      return s.slice(at) + s.slice(0, at);
  }
}

export function mutatedCases(seeds: readonly string[], count: number, seed: number, maxEdits = 3): string[] {
  const rand = prng(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = pick(rand, seeds);
    const edits = 1 + Math.floor(rand() * maxEdits);
    for (let e = 0; e < edits; e++) s = mutate(rand, s);
    out.push(s);
  }
  return out;
}

/** Regression + hand-written + combinations: the deterministic base corpus. */
export function baseCorpus(keywords: readonly string[]): { name: string; cases: string[] }[] {
  return [
    { name: 'postgresql-uri-regress', cases: regressCases() },
    { name: 'keyword-value', cases: KEYWORD_VALUE_CASES },
    { name: 'uri', cases: URI_CASES },
    { name: 'uri-combinations', cases: uriCombinations() },
    { name: 'keyword-combinations', cases: keywordValueCombinations(keywords) },
  ];
}
