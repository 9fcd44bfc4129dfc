// The server's logger settings (fastify's pino).
export function serverLogger(): object {
  return { level: process.env.SHIPGATE_LOG_LEVEL ?? 'info' };
}
