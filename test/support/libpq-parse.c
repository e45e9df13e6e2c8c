/*
 * libpq-parse: the oracle for pg-failover's connection-string parser.
 *
 * Reads one hex-encoded connection string per line on stdin (hex keeps
 * newlines and any other byte intact; an empty line is the empty string) and
 * writes one line per input:
 *
 *   OK <keyword>=<hex value> <keyword>=<hex value> ...
 *   ERR <hex of libpq's error message>
 *
 * listing, in libpq's table order, every keyword whose value PQconninfoParse
 * left non-NULL. With the argument "--keywords" it instead prints libpq's own
 * keyword table (PQconndefaults), one keyword per line, then exits; with
 * "--version" it prints PQlibVersion().
 *
 * With "--resolve", each input is instead given to PQconnectStart, which also
 * applies the service file, PG* environment variables, defaults and the
 * password file; the caller appends an invalid channel_binding so that libpq
 * stops right after those steps, before any network activity. The answer is
 *
 *   RES err=<hex> pquser=<hex> pqdb=<hex> pqhost=<hex> pqport=<hex> pqpass=<hex> <keyword>=<hex> ...
 *
 * with PQconninfo's non-NULL settings.
 *
 * Build: gcc -O1 -o libpq-parse libpq-parse.c -I$(pg_config --includedir) -lpq
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

static void put_hex(const char *s)
{
	static const char digits[] = "0123456789abcdef";
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		putchar(digits[*p >> 4]);
		putchar(digits[*p & 15]);
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--keywords") == 0)
	{
		PQconninfoOption *opts = PQconndefaults();
		if (opts == NULL)
			return 1;
		for (PQconninfoOption *o = opts; o->keyword; o++)
			printf("%s\n", o->keyword);
		PQconninfoFree(opts);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--version") == 0)
	{
		printf("%d\n", PQlibVersion());
		return 0;
	}

	int resolve = argc > 1 && strcmp(argv[1], "--resolve") == 0;
	size_t cap = 0;
	char *line = NULL;
	ssize_t len;
	while ((len = getline(&line, &cap, stdin)) >= 0)
	{
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		char *conninfo = malloc((size_t) len / 2 + 1);
		if (conninfo == NULL)
			return 1;
		size_t n = 0;
		for (ssize_t i = 0; i + 1 < len; i += 2)
		{
			int hi = hexval(line[i]), lo = hexval(line[i + 1]);
			if (hi < 0 || lo < 0)
			{
				fprintf(stderr, "bad hex input\n");
				return 2;
			}
			conninfo[n++] = (char) ((hi << 4) | lo);
		}
		conninfo[n] = '\0';	/* an embedded NUL ends the string, as for any C caller */

		if (resolve)
		{
			PGconn *conn = PQconnectStart(conninfo);
			if (conn == NULL)
				return 1;
			fputs("RES err=", stdout);
			put_hex(PQerrorMessage(conn));
			fputs(" pquser=", stdout);
			put_hex(PQuser(conn) ? PQuser(conn) : "");
			fputs(" pqdb=", stdout);
			put_hex(PQdb(conn) ? PQdb(conn) : "");
			fputs(" pqhost=", stdout);
			put_hex(PQhost(conn) ? PQhost(conn) : "");
			fputs(" pqport=", stdout);
			put_hex(PQport(conn) ? PQport(conn) : "");
			fputs(" pqpass=", stdout);
			put_hex(PQpass(conn) ? PQpass(conn) : "");
			PQconninfoOption *info = PQconninfo(conn);
			for (PQconninfoOption *o = info; o && o->keyword; o++)
			{
				if (o->val == NULL)
					continue;
				printf(" %s=", o->keyword);
				put_hex(o->val);
			}
			putchar('\n');
			PQconninfoFree(info);
			PQfinish(conn);
			free(conninfo);
			continue;
		}

		char *err = NULL;
		PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
		if (opts == NULL)
		{
			fputs("ERR ", stdout);
			put_hex(err ? err : "out of memory");
			putchar('\n');
			if (err)
				PQfreemem(err);
		}
		else
		{
			fputs("OK", stdout);
			for (PQconninfoOption *o = opts; o->keyword; o++)
			{
				if (o->val == NULL)
					continue;
				printf(" %s=", o->keyword);
				put_hex(o->val);
			}
			putchar('\n');
			PQconninfoFree(opts);
		}
		free(conninfo);
	}
	free(line);
	return 0;
}
