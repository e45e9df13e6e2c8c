/** `pg-failover <command>`: the bin entry. */
import { FailoverError } from '../errors';
import { upCommand } from './up';
import { ctlCommand } from './ctl';
import { managerCommand } from './manager';

const USAGE = `pg-failover — a PostgreSQL cluster that feels like one database

Usage:
  pg-failover up [--nodes 3] [--ttl 10] [--sync] [--etcd-members 1] [--plain] [--demo] [--duration SECONDS] [--dir DIR] [--keep] [--json]
        Start a local cluster on loopback: etcd + one pg-failover manager per PostgreSQL node
        (--plain: streaming replication without managers); print its connection strings;
        --demo runs a short workload and a switchover under load; Ctrl-C stops everything.
  pg-failover ctl list|history|switchover|failover --etcd URL[,URL] --scope NAME [--namespace /service] [--json]
        [--leader NAME] [--candidate NAME] [--username U --password P]
        [--cacert CA.pem] [--certfile C.pem --keyfile K.pem] [-k|--insecure]   (HTTPS REST APIs)
        Inspect and operate any cluster with Patroni's etcd keys and REST API
        (ours or Patroni's), like patronictl.
  pg-failover manager --config node.yml | --name N --scope S --etcd HOST:PORT --data-dir D --pg-port P --api-port A …
        Run the HA manager for one PostgreSQL node (reads a Patroni node YAML as it is;
        \`pg-failover manager --help\` lists the flags).
  pg-failover help

Environment:
  PGFAILOVER_PG_BINDIR   directory with initdb/postgres (default: PATH, pg_config, /usr/lib/postgresql/*/bin)
  PGFAILOVER_RUN_AS      OS user for PostgreSQL when running as root (default: postgres)
  PGFAILOVER_ETCD        etcd binary (default: etcd on PATH)
  DEBUG=pg-failover:*    debug logs
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'up':
      return upCommand(rest);
    case 'ctl':
      return ctlCommand(rest);
    case 'manager':
      return managerCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    case '--version':
    case '-v':
      process.stdout.write(`${require('../../package.json').version}\n`);
      return 0;
    default:
      throw new FailoverError('INVALID_OPTION', `unknown command ${JSON.stringify(command)}; run \`pg-failover help\``);
  }
}
