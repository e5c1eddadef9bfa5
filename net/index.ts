/**
 * The network layer's public face: the routing client and its transport seam.
 *
 * @example
 * ```ts
 * import { Client } from './net/index.ts';
 * const client = await Client.connect(['127.0.0.1:7001'], { token: process.env.DISTRIBKV_TOKEN });
 * const seq = await client.put('k', 'v');
 * ```
 */
export { Client, type ClientOptions, type BatchOperation, type KeyLike, type ScanOptions } from './client.ts';
export { ClientError, ConnectionError, unreachableReason, type ClientErrorCode } from './errors.ts';
export { HttpTransport, type Transport, type TransportRequest, type TransportResponse } from './transport.ts';
