/**
 * A bare HTTP/2 client over a TCP socket, for what real clients will not do:
 * send a header twice (Node's http2 refuses to send a second `authorization`),
 * or keep a connection open after the server's GOAWAY and FIN (as grpcio
 * does for a while). It reads frames but decodes no HPACK:
 * tests look at DATA frames and at what the server did.
 */
import { connect, type Socket } from "node:net";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const DATA = 0x0;
const HEADERS = 0x1;
const SETTINGS = 0x4;
const GOAWAY = 0x7;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const ACK = 0x1;

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head.writeUInt8(type, 3);
  head.writeUInt8(flags, 4);
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an n-bit prefix (RFC 7541 5.1). */
function hpackInt(value: number, prefixBits: number, firstByte: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByte | value]);
  const out = [firstByte | max];
  for (value -= max; value >= 128; value >>= 7) out.push((value & 0x7f) | 0x80);
  out.push(value);
  return Buffer.from(out);
}

/** Every field as "literal without indexing, new name", no Huffman: duplicates stay duplicates. */
function hpack(fields: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name);
    const v = Buffer.from(value);
    parts.push(Buffer.from([0x00]), hpackInt(n.length, 7, 0), n, hpackInt(v.length, 7, 0), v);
  }
  return Buffer.concat(parts);
}

/** A gRPC length-prefixed message. */
export function grpcMessage(body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

export class RawH2Client {
  readonly frames: Frame[] = [];
  /** The server closed its side (its FIN); this side stays open until destroy(). */
  readonly serverEnded: Promise<void>;
  private buffered = Buffer.alloc(0);
  private nextStreamId = 1;

  private constructor(private readonly socket: Socket) {
    this.serverEnded = new Promise((resolve) => socket.once("end", () => resolve()));
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
  }

  static async connect(port: number): Promise<RawH2Client> {
    // Half-open allowed: the server's FIN does not make this side close (grpcio, too, stays a while).
    const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, Buffer.alloc(0))]));
    return new RawH2Client(socket);
  }

  /** Starts a unary gRPC call on a new stream; returns its stream id. */
  unary(path: string, metadata: [string, string][], body: Buffer): number {
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const headers: [string, string][] = [
      [":method", "POST"],
      [":scheme", "http"],
      [":path", path],
      [":authority", "127.0.0.1"],
      ["content-type", "application/grpc"],
      ["te", "trailers"],
      ...metadata,
    ];
    this.socket.write(Buffer.concat([frame(HEADERS, END_HEADERS, id, hpack(headers)), frame(DATA, END_STREAM, id, grpcMessage(body))]));
    return id;
  }

  /** The gRPC messages (without their 5-byte prefix) the server sent on a stream. */
  messages(streamId: number): Buffer[] {
    return this.frames.filter((f) => f.type === DATA && f.streamId === streamId && f.payload.length >= 5).map((f) => f.payload.subarray(5));
  }

  /** Whether the server has ended the stream (its trailers). */
  ended(streamId: number): boolean {
    return this.frames.some((f) => f.streamId === streamId && (f.flags & END_STREAM) !== 0);
  }

  gotGoaway(): boolean {
    return this.frames.some((f) => f.type === GOAWAY);
  }

  /** Closes the connection from this side. */
  destroy(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 9) {
      const length = this.buffered.readUIntBE(0, 3);
      if (this.buffered.length < 9 + length) return;
      const f: Frame = {
        type: this.buffered.readUInt8(3),
        flags: this.buffered.readUInt8(4),
        streamId: this.buffered.readUInt32BE(5) & 0x7fffffff,
        payload: this.buffered.subarray(9, 9 + length),
      };
      this.buffered = this.buffered.subarray(9 + length);
      this.frames.push(f);
      if (f.type === SETTINGS && (f.flags & ACK) === 0) this.socket.write(frame(SETTINGS, ACK, 0, Buffer.alloc(0)));
    }
  }
}
