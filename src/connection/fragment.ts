/**
 * Making pieces of a connection string fit for error messages: they must name
 * what is wrong, and never carry a password.
 */

/**
 * A word from the input, fit for a message: a stray word or a bad value may
 * be a mistyped URI (`postgresq://user:password@host`, `//u:password` read as
 * a port), so anything from the first `:` or `@` on is left out.
 */
export function safeWord(word: string): string {
  const cut = word.search(/[:@]/);
  return cut < 0 ? word : `${word.slice(0, cut)}…`;
}

/**
 * A port (list) fit for a message. In a URI without `@`, `//user:password`
 * reads as host `user` with port `password`: only numbers are shown.
 */
export function safePorts(ports: string): string {
  return ports
    .split(',')
    .map((p) => (/^[0-9 +-]{0,12}$/.test(p) ? p : '<not a number>'))
    .join(',');
}
