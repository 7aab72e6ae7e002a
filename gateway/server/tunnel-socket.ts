/**
 * The gateway's side of one tunnel WebSocket. It differs from `ws`'s own in one thing: it can be told, ahead of
 * time, the close code to end with.
 *
 * A session ends by ending its stream (`createWebSocketStream`), which closes the WebSocket with no code once
 * every queued byte (the client's FATAL) is out. When a revoked or expired grant ends the session, the agent
 * must learn why, so that it stops listening for that grant at once: {@link TunnelSocket.endWith} sets the code
 * that close then sends, after the FATAL, never before it.
 */
import { WebSocket } from 'ws';

export class TunnelSocket extends WebSocket {
  #endCode: number | undefined;
  #endReason: string | undefined;

  /** The close code (and short reason) to send when the socket is closed without one. */
  endWith(code: number, reason: string): void {
    this.#endCode = code;
    this.#endReason = reason;
  }

  override close(code?: number, data?: string | Buffer): void {
    if (code === undefined && this.#endCode !== undefined) super.close(this.#endCode, this.#endReason);
    else super.close(code, data);
  }
}
