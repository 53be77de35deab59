/**
 * Which of two tokens from the server a client should hold. Versions order
 * tokens within one lineage (one server's history, or replicas sharing a
 * store), but a server restarted with the memory store, or a replica with its
 * own store, starts again at version 1: its tokens are a new lineage whose
 * versions say nothing against the old one's, and the old token is dead.
 */
import type { Token } from "../generated/wxtoken/v1/token_service.js";

/**
 * True when candidate should replace held: a higher version, or a different
 * token obtained no earlier (a new lineage, whatever its version: within one
 * lineage two tokens are never obtained at the same instant). A replica that
 * is behind within the same lineage (an older token, obtained earlier) never
 * takes the client back.
 */
export function isNewer(candidate: Token, held: Token | undefined): boolean {
  if (!held) return true;
  if (candidate.version > held.version) return true;
  const obtained = candidate.obtainedAt?.getTime();
  const heldObtained = held.obtainedAt?.getTime();
  return (
    obtained !== undefined &&
    heldObtained !== undefined &&
    obtained >= heldObtained &&
    candidate.accessToken !== held.accessToken
  );
}
