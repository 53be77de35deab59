/**
 * The bench's gRPC calls on the server under test: GetToken probes (is this
 * account served?) and ListAuthorizers, in pages when the server has them
 * (page_size / page_token) and whole otherwise. Which of the two is decided
 * at run time from the generated request type, so the bench builds and runs
 * on either side of that change.
 */
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { GetTokenRequest, ListAuthorizersRequest, ListAuthorizersResponse, TokenServiceClient, type GetTokenResponse } from "../../generated/wxtoken/v1/token_service.js";
import { COMPONENT } from "./fake.js";

/** Whether ListAuthorizers takes page_size (the field is in the generated request type). */
export const LIST_PAGING = "pageSize" in ListAuthorizersRequest.fromPartial({});

export interface ListedPage {
  appIds: string[];
  /** Of those, the ones whose token the server holds (token_version > 0). */
  withToken: string[];
  /** next_page_token ("" on the last page, or without paging). */
  next: string;
  /** total_size when the server says it. */
  total: number | undefined;
  /** The response's size on the wire (protobuf). */
  bytes: number;
  ms: number;
}

export class BenchClient {
  readonly grpc: TokenServiceClient;

  constructor(target: string) {
    // A whole list of 100,000 is ~20 MB: no receive limit for the bench. A
    // server still loading its store is not listening yet: retry the
    // connection every ~100 ms, not with grpc-js's backoff of up to 2 minutes,
    // or the start time measured would be the backoff's.
    this.grpc = new TokenServiceClient(target, credentials.createInsecure(), {
      "grpc.max_receive_message_length": -1,
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 200,
    });
  }

  ready(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => this.grpc.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve())));
  }

  getToken(appId: string, deadlineMs = 2000): Promise<GetTokenResponse> {
    return new Promise((resolve, reject) =>
      this.grpc.getToken(GetTokenRequest.fromPartial({ appId }), new Metadata(), { deadline: Date.now() + deadlineMs }, (err: ServiceError | null, res?: GetTokenResponse) => (err ? reject(err) : resolve(res!))),
    );
  }

  /** How many of these GetToken answers OK (32 in flight). */
  async served(appIds: readonly string[], deadlineMs = 2000): Promise<number> {
    let ok = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < appIds.length) {
        const appId = appIds[next++]!;
        // Awaited first: `ok += await ...` would read ok before the wait and lose the other workers' counts.
        const answered = await this.getToken(appId, deadlineMs).then(
          () => 1,
          () => 0,
        );
        ok += answered;
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    return ok;
  }

  /** One page (pageSize 0: the server's default), or the whole list without paging. */
  async listPage(pageSize = 0, pageToken = "", deadlineMs = 120_000): Promise<ListedPage> {
    const req = ListAuthorizersRequest.fromPartial({ componentAppId: COMPONENT, ...(LIST_PAGING ? { pageSize, pageToken } : {}) } as Partial<ListAuthorizersRequest>);
    const started = performance.now();
    const res = await new Promise<ListAuthorizersResponse>((resolve, reject) =>
      this.grpc.listAuthorizers(req, new Metadata(), { deadline: Date.now() + deadlineMs }, (err: ServiceError | null, r?: ListAuthorizersResponse) => (err ? reject(err) : resolve(r!))),
    );
    const ms = performance.now() - started;
    const extra = res as unknown as { nextPageToken?: string; totalSize?: number };
    return {
      appIds: res.authorizers.map((a) => a.appId),
      withToken: res.authorizers.filter((a) => Number(a.tokenVersion) > 0).map((a) => a.appId),
      next: extra.nextPageToken ?? "",
      total: LIST_PAGING ? extra.totalSize : res.authorizers.length,
      bytes: ListAuthorizersResponse.encode(res).finish().length,
      ms,
    };
  }

  /** Every authorizer the server lists (page after page, the largest pages), and those of them that hold a token. */
  async listAll(): Promise<{ appIds: string[]; withToken: string[] }> {
    const appIds: string[] = [];
    const withToken: string[] = [];
    for (let token = ""; ; ) {
      const page = await this.listPage(1000, token);
      for (const id of page.appIds) appIds.push(id);
      for (const id of page.withToken) withToken.push(id);
      if (!page.next) return { appIds, withToken };
      token = page.next;
    }
  }

  close(): void {
    this.grpc.close();
  }
}
