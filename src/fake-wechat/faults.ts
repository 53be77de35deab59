/**
 * Injected faults: which requests they hit and how many times. How a fault is
 * answered on the wire lives in index.ts; this file only decides which one applies.
 */
import { z } from "zod";

export interface Fault {
  /** Endpoint path, default "/cgi-bin/token"; "*" matches every WeChat path. */
  path?: string;
  /** Only requests about this app (default: any app). */
  appId?: string;
  /** Answer this WeChat error (errmsg defaults to the realistic text for the code). */
  errcode?: number;
  errmsg?: string;
  /** Wait this long (real time) before answering; combines with the others. */
  delayMs?: number;
  /** Answer 200 with a body that is not JSON. */
  garbage?: boolean;
  /** Answer this HTTP status with an HTML body. */
  httpStatus?: number;
  /** Destroy the socket without answering. */
  drop?: boolean;
  /** How many matching requests it applies to; default 1, Infinity allowed. */
  times?: number;
}

/** Whether the fault changes anything; one without is a mistake, not a no-op to accept. */
export function hasEffect(f: Omit<Fault, "times">): boolean {
  return (
    f.errcode !== undefined ||
    f.errmsg !== undefined ||
    (f.delayMs ?? 0) > 0 ||
    f.garbage === true ||
    f.httpStatus !== undefined ||
    f.drop === true
  );
}

/** A fault as the control API receives it: JSON has no Infinity, so "times": null means it. */
export const faultSchema = z
  .object({
    path: z.string().min(1).optional(),
    appId: z.string().min(1).optional(),
    errcode: z.number().int().optional(),
    errmsg: z.string().optional(),
    delayMs: z.number().min(0).max(600_000).optional(),
    garbage: z.boolean().optional(),
    httpStatus: z.number().int().min(100).max(599).optional(),
    drop: z.boolean().optional(),
    times: z.number().int().positive().nullable().optional(),
  })
  .strict()
  .refine(hasEffect, { message: "a fault needs an effect: errcode, errmsg, delayMs > 0, garbage, httpStatus or drop" })
  .transform((f): Fault => {
    const { times, ...rest } = f;
    return { ...rest, times: times === null ? Infinity : times };
  });

interface ActiveFault {
  fault: Fault;
  remaining: number;
}

export class FaultList {
  private active: ActiveFault[] = [];

  add(fault: Fault): void {
    if (!hasEffect(fault)) throw new RangeError("fault has no effect: give errcode, errmsg, delayMs > 0, garbage, httpStatus or drop");
    const times = fault.times ?? 1;
    if (!(times > 0) || (Number.isFinite(times) && !Number.isInteger(times))) {
      throw new RangeError(`fault.times must be a positive integer or Infinity, got ${times}`);
    }
    if (fault.httpStatus !== undefined && (fault.httpStatus < 100 || fault.httpStatus > 599)) {
      throw new RangeError(`fault.httpStatus must be an HTTP status, got ${fault.httpStatus}`);
    }
    this.active.push({ fault: { ...fault }, remaining: times });
  }

  clear(): void {
    this.active = [];
  }

  /** The first fault (in injection order) matching this request, using up one of its times. */
  take(path: string, appId: string | undefined): Fault | undefined {
    const hit = this.active.find(
      (a) =>
        (a.fault.path === "*" || (a.fault.path ?? "/cgi-bin/token") === path) &&
        (a.fault.appId === undefined || a.fault.appId === appId),
    );
    if (!hit) return undefined;
    hit.remaining -= 1;
    if (hit.remaining <= 0) this.active = this.active.filter((a) => a !== hit);
    return hit.fault;
  }

  count(): number {
    return this.active.length;
  }
}
