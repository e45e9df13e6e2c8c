/** The browser stand-in for the Fastify example (the same as Express's). */
import { httpApp } from '../express/client';
import { start } from './app';

export const createApp = (connectionString: string) => httpApp('fastify', start, connectionString);
